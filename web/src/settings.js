// Viewer and comfort settings: a form in the panel, kept in localStorage.

import { h } from "./dom.js";

const KEY = "spacetime.settings";

export const DEFAULTS = {
  mode: "log", // "log" | "linear"
  labels: true,
  orbits: true,
  beltDetail: 1, // decimation of the asteroid belt: 1 = every particle
  dynamicResolution: true,
  snapTurn: true,
  teleport: true,
  vignette: true,
};

export function loadSettings() {
  try {
    const saved = JSON.parse(localStorage.getItem(KEY) || "{}");
    const s = { ...DEFAULTS };
    for (const k of Object.keys(DEFAULTS)) if (typeof saved[k] === typeof DEFAULTS[k]) s[k] = saved[k];
    if (!["log", "linear"].includes(s.mode)) s.mode = DEFAULTS.mode;
    if (![1, 2, 5, 10].includes(s.beltDetail)) s.beltDetail = 1;
    return s;
  } catch {
    return { ...DEFAULTS };
  }
}

function save(s) {
  try {
    localStorage.setItem(KEY, JSON.stringify(s));
  } catch {
    /* storage off: settings last as long as the page */
  }
}

/**
 * Renders the settings form into host and calls onChange(settings) with
 * every change (and once at the start).
 */
export function settingsForm(host, onChange) {
  const s = loadSettings();
  const changed = () => {
    save(s);
    onChange({ ...s });
  };
  const check = (key, label, hint) =>
    h(
      "label",
      { class: "check" },
      h("input", {
        type: "checkbox",
        id: `set-${key}`,
        checked: s[key],
        onchange: (e) => {
          s[key] = e.target.checked;
          changed();
        },
      }),
      " ",
      label,
      hint ? h("span", { class: "hint" }, ` ${hint}`) : null,
    );
  const radio = (name, value, label) =>
    h(
      "label",
      { class: "check" },
      h("input", {
        type: "radio",
        name,
        value,
        id: `set-${name}-${value}`,
        checked: s.mode === value,
        onchange: (e) => {
          if (e.target.checked) {
            s.mode = value;
            changed();
          }
        },
      }),
      " ",
      label,
    );
  host.append(
    h(
      "form",
      { class: "settings", onsubmit: (e) => e.preventDefault() },
      h(
        "fieldset",
        {},
        h("legend", {}, "Scale"),
        radio("mode", "log", "Log distance (ship-centred, everything readable)"),
        radio("mode", "linear", "Linear system view (scaled radii)"),
      ),
      h(
        "fieldset",
        {},
        h("legend", {}, "Display"),
        check("labels", "Labels"),
        check("orbits", "Orbits and ship trail"),
        h(
          "label",
          { for: "set-beltDetail" },
          "Asteroid belt detail ",
          h(
            "select",
            {
              id: "set-beltDetail",
              onchange: (e) => {
                s.beltDetail = Number(e.target.value);
                changed();
              },
            },
            [1, 2, 5, 10].map((n) => h("option", { value: String(n), selected: s.beltDetail === n }, n === 1 ? "every particle" : `1 in ${n}`)),
          ),
        ),
        check("dynamicResolution", "Dynamic resolution", "(lower the render scale when frames are slow)"),
      ),
      h(
        "fieldset",
        {},
        h("legend", {}, "VR comfort"),
        check("snapTurn", "Snap turn", "(right stick left/right turns 30°; off: it yaws the ship)"),
        check("teleport", "Teleport", "(right trigger: aim at the deck, release to move)"),
        check("vignette", "Comfort vignette", "(narrows the view while accelerating or turning)"),
      ),
    ),
  );
  changed();
}
