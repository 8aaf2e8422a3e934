// Which headset a WebXR session runs on, in words a person reads. WebXR
// does not name the device: the browser's user agent (the Quest browser
// says "Quest 3") and the input profiles of the controllers
// (https://github.com/immersive-web/webxr-input-profiles) are the clues.

export const UNKNOWN_HEADSET = "Unknown WebXR headset";

// Most specific first: "Quest 3S" before "Quest 3", "Quest Pro" before "Quest".
const USER_AGENTS = [
  [/Quest 3S/i, "Meta Quest 3S"],
  [/Quest 3/i, "Meta Quest 3"],
  [/Quest Pro/i, "Meta Quest Pro"],
  [/Quest 2/i, "Meta Quest 2"],
  [/Quest/i, "Meta Quest"],
  [/Pico Neo 3/i, "PICO Neo 3"],
  [/Pico 4/i, "PICO 4"],
  [/VIVE Focus 3/i, "HTC Vive Focus 3"],
  [/VIVE XR Elite/i, "HTC Vive XR Elite"],
  [/Magic Leap/i, "Magic Leap"],
  [/AppleVision|visionOS/i, "Apple Vision Pro"],
];

// Controller profile → the headset it ships with.
const PROFILES = {
  "meta-quest-touch-plus": "Meta Quest 3",
  "meta-quest-touch-pro": "Meta Quest Pro",
  "oculus-touch-v3": "Meta Quest 2",
  "oculus-touch-v2": "Oculus Quest / Rift S",
  "oculus-touch": "Oculus Rift",
  "oculus-go": "Oculus Go",
  "pico-4u": "PICO 4 Ultra",
  "pico-4": "PICO 4",
  "pico-neo3": "PICO Neo 3",
  "htc-vive-focus-3": "HTC Vive Focus 3",
  "htc-vive-focus-plus": "HTC Vive Focus Plus",
  "htc-vive-cosmos": "HTC Vive Cosmos",
  "htc-vive": "HTC Vive",
  "valve-index": "Valve Index",
  "hp-mixed-reality": "HP Reverb G2",
  "samsung-odyssey": "Samsung Odyssey",
  "microsoft-mixed-reality": "Windows Mixed Reality headset",
  "magicleap-one": "Magic Leap One",
};

/**
 * The readable headset type from the user agent and the input sources'
 * profile lists (each most specific first). The user agent wins for the
 * Quest family, where it names the exact model.
 * @param {string} userAgent
 * @param {string[][]} profileLists
 */
export function headsetType(userAgent = "", profileLists = []) {
  for (const [re, name] of USER_AGENTS) if (re.test(userAgent)) return name;
  for (const list of profileLists) {
    for (const id of list || []) {
      if (PROFILES[id]) return PROFILES[id];
    }
  }
  return UNKNOWN_HEADSET;
}
