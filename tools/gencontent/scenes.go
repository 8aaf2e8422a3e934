package main

import (
	"fmt"
	"math"
	"strings"
)

// file is one generated file, path relative to the content root.
type file struct {
	path string
	data []byte
}

// Figures of the sample scenes.
const (
	epochJD       = 2451545.0   // J2000.0
	speedOfLight  = 299792458.0 // m/s
	shipMass      = 20000.0     // kg
	shipMaxThrust = 200000.0    // N (about 1 g at full throttle)
	shipHull      = 20.0        // m
	leoAltitude   = 400e3       // m above the Earth's mean radius
	menuDistance  = 1e8         // m from the Earth's centre (100,000 km)
	beltCount     = 20000
	beltSeed      = 1801 // the year Ceres was found
	beltMaxIncl   = 15.0 // degrees
	beltMaxEcc    = 0.15
)

// generate builds every file of the sample project from the ephemeris.
func generate(eph *ephemeris) ([]file, error) {
	builders := []struct {
		path  string
		build func(*ephemeris) (*scene, error)
	}{
		{"vr_main.tscn", vrMain},
		{"scenes/menu.tscn", menu},
		{"tests/debug.tscn", debugScene},
		{"tests/integration/two_body.tscn", twoBody},
		{"tests/integration/relativity.tscn", relativity},
		{"tests/integration/belt.tscn", beltScene},
		{"tests/integration/parts/planet.tscn", planetPart},
		{"tests/integration/instancing.tscn", instancing},
	}
	out := []file{{"project.godot", []byte(projectGodot)}}
	for _, b := range builders {
		s, err := b.build(eph)
		if err != nil {
			return nil, fmt.Errorf("build %s: %w", b.path, err)
		}
		if want := "res://" + b.path; s.path != want {
			return nil, fmt.Errorf("build %s: scene says it is %s", b.path, s.path)
		}
		out = append(out, file{b.path, []byte(s.text())})
	}
	for _, f := range brokenFiles() {
		out = append(out, file{f.path, []byte(f.text)})
	}
	return out, nil
}

// projectGodot marks the content root as a Godot project and names the
// main scene.
const projectGodot = `; Engine configuration file.
; The SpaceTime sample project: res:// when spacetime runs without --project.

config_version=5

[application]

config/name="SpaceTime"
run/main_scene="res://vr_main.tscn"
config/features=PackedStringArray("4.4")

[xr]

openxr/enabled=true
shaders/enabled=true
`

// look is how a body is drawn: albedo, or emission for a star.
type look struct {
	r, g, b  float64
	emissive bool
}

// looks are the sample colours of the bodies (cosmetic only).
func looks() map[string]look {
	return map[string]look{
		"Sun":     {1, 0.85, 0.6, true},
		"Mercury": {0.55, 0.53, 0.5, false},
		"Venus":   {0.9, 0.8, 0.6, false},
		"Earth":   {0.2, 0.4, 0.8, false},
		"Moon":    {0.6, 0.6, 0.6, false},
		"Mars":    {0.75, 0.35, 0.2, false},
		"Jupiter": {0.8, 0.7, 0.55, false},
		"Saturn":  {0.85, 0.78, 0.6, false},
		"Uranus":  {0.6, 0.8, 0.85, false},
		"Neptune": {0.3, 0.45, 0.85, false},
		"Star":    {1, 0.9, 0.7, true},
		"Planet":  {0.3, 0.5, 0.7, false},
		"Anchor":  {0.5, 0.5, 0.5, false},
	}
}

// material adds a StandardMaterial3D for the look of name and returns its id.
func (s *scene) material(name string) string {
	lk, ok := looks()[name]
	if !ok {
		lk = look{0.7, 0.7, 0.7, false}
	}
	id := "StandardMaterial3D_" + strings.ToLower(name)
	if lk.emissive {
		return s.addSub("StandardMaterial3D", id,
			prop{"shading_mode", "0"},
			prop{"albedo_color", color(lk.r, lk.g, lk.b, 1)},
			prop{"emission_enabled", "true"},
			prop{"emission", color(lk.r, lk.g, lk.b, 1)},
			prop{"emission_energy_multiplier", scalar(4)},
		)
	}
	return s.addSub("StandardMaterial3D", id, prop{"albedo_color", color(lk.r, lk.g, lk.b, 1)})
}

// sphere adds a SphereMesh of the given radius (height 2r) and returns its id.
func (s *scene) sphere(name string, radius float64, material string) string {
	props := []prop{{"radius", scalar(radius)}, {"height", scalar(2 * radius)}}
	if material != "" {
		props = append(props, prop{"material", subRef(material)})
	}
	return s.addSub("SphereMesh", "SphereMesh_"+strings.ToLower(name), props...)
}

// bodyOpts says which of a body node's optional properties to write.
type bodyOpts struct {
	noRadius   bool // leave metadata/radius out: the SphereMesh gives it
	noVelocity bool // leave metadata/velocity out: it defaults to zero
}

// addBody adds a massive body: a Node3D at b.Pos with metadata/gm, radius
// and velocity, and a MeshInstance3D child "Mesh" with a SphereMesh of the
// body's real radius (so metadata/radius and the mesh agree).
func (s *scene) addBody(parent string, b body, opts bodyOpts) {
	mat := s.material(b.Name)
	mesh := s.sphere(b.Name, b.Radius, mat)
	var props []prop
	if b.Pos != (vec3{}) {
		// Godot leaves a property out when it has its default value.
		props = append(props, prop{"transform", transform3D(identityBasis(), b.Pos)})
	}
	props = append(props, prop{"metadata/gm", scalar(b.GM)})
	if !opts.noRadius {
		props = append(props, prop{"metadata/radius", scalar(b.Radius)})
	}
	if !opts.noVelocity {
		props = append(props, prop{"metadata/velocity", vector3(b.Vel)})
	}
	s.addNode(node{name: b.Name, typ: "Node3D", parent: parent, props: props})
	s.addNode(node{name: "Mesh", typ: "MeshInstance3D", parent: childPath(parent, b.Name),
		props: []prop{{"mesh", subRef(mesh)}}})
}

// childPath is the parent="" value for the children of a node called name
// under parent.
func childPath(parent, name string) string {
	if parent == "." {
		return name
	}
	return parent + "/" + name
}

// ship is the player's vessel at spawn.
type ship struct {
	name      string
	att       basis
	pos, vel  vec3
	mass      float64
	maxThrust float64
	hull      float64
}

// addShip adds the player: an XROrigin3D with the ship's metadata, an
// XRCamera3D at eye height and two XRController3D hands with small box
// meshes, as in Godot's WebXR demo. The ship has no hull mesh: the camera
// would be inside it.
func (s *scene) addShip(parent string, sh ship) {
	left := s.addSub("BoxMesh", "BoxMesh_left_hand", prop{"size", vector3(vec3{0.1, 0.1, 0.1})})
	right := s.addSub("BoxMesh", "BoxMesh_right_hand", prop{"size", vector3(vec3{0.1, 0.1, 0.1})})
	s.addNode(node{name: sh.name, typ: "XROrigin3D", parent: parent, props: []prop{
		{"transform", transform3D(sh.att, sh.pos)},
		{"metadata/velocity", vector3(sh.vel)},
		{"metadata/ship_mass", scalar(sh.mass)},
		{"metadata/max_thrust", scalar(sh.maxThrust)},
		{"metadata/hull_radius", scalar(sh.hull)},
	}})
	rig := childPath(parent, sh.name)
	s.addNode(node{name: "XRCamera3D", typ: "XRCamera3D", parent: rig, props: []prop{
		{"transform", transform3D(identityBasis(), vec3{0, 1.7, 0})},
	}})
	for _, h := range []struct{ name, tracker, mesh string }{
		{"LeftController", "left_hand", left},
		{"RightController", "right_hand", right},
	} {
		x := -0.5
		if h.tracker == "right_hand" {
			x = 0.5
		}
		s.addNode(node{name: h.name, typ: "XRController3D", parent: rig, props: []prop{
			{"transform", transform3D(identityBasis(), vec3{x, 1, 0})},
			{"tracker", stringName(h.tracker)},
		}})
		s.addNode(node{name: "MeshInstance3D", typ: "MeshInstance3D", parent: rig + "/" + h.name,
			props: []prop{{"mesh", subRef(h.mesh)}}})
	}
}

// addEnvironment adds a black-sky WorldEnvironment with faint ambient light.
func (s *scene) addEnvironment(parent string) {
	env := s.addSub("Environment", "Environment_space",
		prop{"background_mode", "1"},
		prop{"background_color", color(0, 0, 0, 1)},
		prop{"ambient_light_source", "2"},
		prop{"ambient_light_color", color(0.05, 0.05, 0.08, 1)},
		prop{"tonemap_mode", "2"},
	)
	s.addNode(node{name: "WorldEnvironment", typ: "WorldEnvironment", parent: parent,
		props: []prop{{"environment", subRef(env)}}})
}

// addSunlight adds a DirectionalLight3D at origin shining along dir.
func (s *scene) addSunlight(parent string, origin, dir vec3) {
	s.addNode(node{name: "Sunlight", typ: "DirectionalLight3D", parent: parent, props: []prop{
		{"transform", transform3D(lookBasis(dir, vec3{0, 0, 1}), origin)},
		{"shadow_enabled", "true"},
	}})
}

// rootProps are the scene-root metadata of a scene at J2000.
func rootProps(c float64) []prop {
	return []prop{
		{"metadata/epoch_jd", scalar(epochJD)},
		{"metadata/speed_of_light", scalar(c)},
		{"metadata/time_scale", scalar(1)},
	}
}

// leoShip is the player's spawn of vr_main: a circular orbit 400 km above
// the Earth's mean radius, on the sunward side of the Earth, in the plane
// through the Earth parallel to the ecliptic, prograde (counter-clockwise
// seen from ecliptic north). The ship looks prograde with its Y axis
// pointing away from the Earth (the Earth below the floor).
func leoShip(bodies []body) (ship, error) {
	earth, err := find(bodies, nameEarth)
	if err != nil {
		return ship{}, err
	}
	sun, err := find(bodies, nameSun)
	if err != nil {
		return ship{}, err
	}
	dir := sun.Pos.sub(earth.Pos).unit()
	pos, vel := circularOrbit(earth, earth.Radius+leoAltitude, dir, vec3{0, 0, 1})
	return ship{
		name: "PlayerShip", att: lookBasis(vel.sub(earth.Vel), dir),
		pos: pos, vel: vel, mass: shipMass, maxThrust: shipMaxThrust, hull: shipHull,
	}, nil
}

// vrMain is res://vr_main.tscn: the solar system at J2000 in its barycentric
// frame, the asteroid belt and the player in low Earth orbit.
func vrMain(eph *ephemeris) (*scene, error) {
	bodies, err := solarSystem(eph)
	if err != nil {
		return nil, err
	}
	sun, err := find(bodies, nameSun)
	if err != nil {
		return nil, err
	}
	earth, err := find(bodies, nameEarth)
	if err != nil {
		return nil, err
	}
	sh, err := leoShip(bodies)
	if err != nil {
		return nil, err
	}
	s := &scene{path: "res://vr_main.tscn"}
	s.addNode(node{name: "VRMain", typ: "Node3D", props: rootProps(speedOfLight)})
	s.addEnvironment(".")
	s.addSunlight(".", sun.Pos, earth.Pos.sub(sun.Pos))
	for _, b := range bodies {
		s.addBody(".", b, bodyOpts{})
		if b.Name == nameSun {
			s.addNode(node{name: "SunLight", typ: "OmniLight3D", parent: b.Name, props: []prop{
				{"light_energy", scalar(2)},
				{"omni_range", scalar(4096)},
				{"omni_attenuation", scalar(0)},
			}})
		}
	}
	s.addNode(node{name: "AsteroidBelt", typ: "Node3D", parent: ".", props: []prop{
		{"metadata/belt_count", integer(beltCount)},
		{"metadata/belt_inner", scalar(eph.AuM * 21 / 10)}, // 2.1 au, exact
		{"metadata/belt_outer", scalar(eph.AuM * 33 / 10)}, // 3.3 au, exact
		{"metadata/belt_center", nodePath("../" + nameSun)},
		{"metadata/belt_seed", integer(beltSeed)},
		{"metadata/belt_max_inclination_deg", scalar(beltMaxIncl)},
		{"metadata/belt_max_eccentricity", scalar(beltMaxEcc)},
	}})
	s.addShip(".", sh)
	return s, nil
}

// menuShip is the menu's player: on a circular orbit about the Earth at
// menuDistance, 90° ahead of the Moon, looking at the Earth.
func menuShip(bodies []body) (ship, error) {
	earth, err := find(bodies, nameEarth)
	if err != nil {
		return ship{}, err
	}
	moon, err := find(bodies, nameMoon)
	if err != nil {
		return ship{}, err
	}
	north := vec3{0, 0, 1}
	dir := north.cross(moon.Pos.sub(earth.Pos))
	pos, vel := circularOrbit(earth, menuDistance, dir, north)
	return ship{
		name: "PlayerShip", att: lookBasis(earth.Pos.sub(pos), north),
		pos: pos, vel: vel, mass: shipMass, maxThrust: shipMaxThrust, hull: shipHull,
	}, nil
}

// menu is res://scenes/menu.tscn: the Earth and the Moon alone (their J2000
// relative state, in their barycentric frame) and the player 100,000 km
// from the Earth, as a backdrop for the menu.
func menu(eph *ephemeris) (*scene, error) {
	bodies, err := earthMoonSystem(eph)
	if err != nil {
		return nil, err
	}
	helio, err := heliocentric(eph)
	if err != nil {
		return nil, err
	}
	earthH, err := find(helio, nameEarth)
	if err != nil {
		return nil, err
	}
	sh, err := menuShip(bodies)
	if err != nil {
		return nil, err
	}
	s := &scene{path: "res://scenes/menu.tscn"}
	s.addNode(node{name: "Menu", typ: "Node3D", props: rootProps(speedOfLight)})
	s.addEnvironment(".")
	// Sunlight from the Sun's J2000 direction as seen from the Earth.
	s.addSunlight(".", vec3{}, earthH.Pos)
	for _, b := range bodies {
		s.addBody(".", b, bodyOpts{})
	}
	s.addShip(".", sh)
	return s, nil
}

// debugScene is res://tests/debug.tscn: one body and the player on a
// circular orbit with round numbers. The root has no metadata (defaults
// apply), the body has no metadata/radius (its SphereMesh gives 500 km) and
// no metadata/velocity (zero).
func debugScene(*ephemeris) (*scene, error) {
	const (
		gm     = 1e14 // m³/s²
		radius = 5e5  // m
		r      = 1e6  // orbit radius, m
	)
	planet := body{Name: "Planet", GM: gm, Radius: radius}
	s := &scene{path: "res://tests/debug.tscn"}
	s.addNode(node{name: "Debug", typ: "Node3D"})
	s.addSunlight(".", vec3{}, vec3{-1, 0, 0})
	s.addBody(".", planet, bodyOpts{noRadius: true, noVelocity: true})
	s.addShip(".", ship{
		name: "PlayerShip", att: identityBasis(),
		pos: vec3{r, 0, 0}, vel: vec3{0, circularSpeed(gm, r), 0}, // 10 km/s
		mass: shipMass, maxThrust: shipMaxThrust, hull: shipHull,
	})
	return s, nil
}

// relativity is res://tests/integration/relativity.tscn: the speed of
// light lowered to 1000 m/s and the player moving at 600 m/s (v/c = 0.6,
// γ = 1.25) 1000 km from a light body with GM/(r·c²) = 0.01.
func relativity(*ephemeris) (*scene, error) {
	const c = 1000.0
	s := &scene{path: "res://tests/integration/relativity.tscn"}
	s.addNode(node{name: "Relativity", typ: "Node3D", props: rootProps(c)})
	s.addBody(".", body{Name: "Anchor", GM: 1e10, Radius: 1000}, bodyOpts{})
	s.addShip(".", ship{
		name: "PlayerShip", att: identityBasis(),
		pos: vec3{1e6, 0, 0}, vel: vec3{0, 600, 0},
		mass: shipMass, maxThrust: 2000, hull: shipHull,
	})
	return s, nil
}

// Figures of two_body.tscn.
const (
	twoBodyStarGM     = 1e20
	twoBodyPlanetGM   = 1e14
	twoBodySeparation = 1e11 // m
)

// twoBodyPeriod is the orbital period of two_body.tscn, seconds.
func twoBodyPeriod() float64 {
	mu := twoBodyStarGM + twoBodyPlanetGM
	return 2 * math.Pi * math.Sqrt(twoBodySeparation*twoBodySeparation*twoBodySeparation/mu)
}

// twoBody is res://tests/integration/two_body.tscn: a star and a planet on
// an exact circular orbit about their barycentre at the origin, in the
// ecliptic plane, counter-clockwise; metadata/period_s on the root says the
// period 2π·sqrt(d³/(GM1+GM2)).
func twoBody(*ephemeris) (*scene, error) {
	mu := twoBodyStarGM + twoBodyPlanetGM
	rel := body{Pos: vec3{twoBodySeparation, 0, 0}, Vel: vec3{0, circularSpeed(mu, twoBodySeparation), 0}}
	bodies := barycentric([]body{
		{Name: "Star", GM: twoBodyStarGM, Radius: 7e8},
		{Name: "Planet", GM: twoBodyPlanetGM, Radius: 6e6, Pos: rel.Pos, Vel: rel.Vel},
	})
	s := &scene{path: "res://tests/integration/two_body.tscn"}
	props := append(rootProps(speedOfLight), prop{"metadata/period_s", scalar(twoBodyPeriod())})
	s.addNode(node{name: "TwoBody", typ: "Node3D", props: props})
	for _, b := range bodies {
		s.addBody(".", b, bodyOpts{})
	}
	return s, nil
}

// beltScene is res://tests/integration/belt.tscn: a Sun-like star and a
// 1000-particle belt between 2 and 3 au that relies on the defaults
// (centre = the first body, inclination 10°, eccentricity 0.1).
func beltScene(eph *ephemeris) (*scene, error) {
	sun, err := eph.body(nameSun)
	if err != nil {
		return nil, err
	}
	s := &scene{path: "res://tests/integration/belt.tscn"}
	s.addNode(node{name: "BeltTest", typ: "Node3D", props: rootProps(speedOfLight)})
	s.addBody(".", body{Name: "Star", GM: sun.GM, Radius: sun.RadiusKm * 1000}, bodyOpts{})
	s.addNode(node{name: "Belt", typ: "Node3D", parent: ".", props: []prop{
		{"metadata/belt_count", integer(1000)},
		{"metadata/belt_inner", scalar(2 * eph.AuM)},
		{"metadata/belt_outer", scalar(3 * eph.AuM)},
		{"metadata/belt_seed", integer(7)},
	}})
	return s, nil
}

// Figures of the instanced planet part.
const (
	partMass   = 5.972e24 // kg: the part gives metadata/mass, not gm
	partRadius = 6.371e6  // m
)

// planetPart is res://tests/integration/parts/planet.tscn, instanced by
// instancing.tscn: an Earth-like planet given by mass (not GM), at rest at
// its own origin.
func planetPart(*ephemeris) (*scene, error) {
	s := &scene{path: "res://tests/integration/parts/planet.tscn"}
	mat := s.material("Planet")
	mesh := s.sphere("Planet", partRadius, mat)
	s.addNode(node{name: "Planet", typ: "Node3D", props: []prop{
		{"metadata/mass", scalar(partMass)},
		{"metadata/radius", scalar(partRadius)},
		{"metadata/velocity", vector3(vec3{})},
	}})
	s.addNode(node{name: "Mesh", typ: "MeshInstance3D", parent: ".", props: []prop{{"mesh", subRef(mesh)}}})
	return s, nil
}

// instancing is res://tests/integration/instancing.tscn: a star and three
// instances of parts/planet.tscn on circular orbits about it, each with its
// own metadata/velocity. PlanetA overrides transform (1 au on +x), PlanetB
// overrides position (1.5 au on -y), PlanetC sits under a group node at
// 2 au on +y with its own transform of 0.5 au on +y (2.5 au in all).
func instancing(eph *ephemeris) (*scene, error) {
	sun, err := eph.body(nameSun)
	if err != nil {
		return nil, err
	}
	au := eph.AuM
	s := &scene{path: "res://tests/integration/instancing.tscn"}
	part := s.addExt("PackedScene", "res://tests/integration/parts/planet.tscn", "1_planet")
	s.addNode(node{name: "Instancing", typ: "Node3D", props: rootProps(speedOfLight)})
	s.addBody(".", body{Name: "Star", GM: sun.GM, Radius: sun.RadiusKm * 1000}, bodyOpts{})
	v := func(r float64) float64 { return circularSpeed(sun.GM, r) }
	s.addNode(node{name: "PlanetA", parent: ".", instance: part, props: []prop{
		{"transform", transform3D(identityBasis(), vec3{au, 0, 0})},
		{"metadata/velocity", vector3(vec3{0, v(au), 0})},
	}})
	s.addNode(node{name: "PlanetB", parent: ".", instance: part, props: []prop{
		{"position", vector3(vec3{0, -1.5 * au, 0})},
		{"metadata/velocity", vector3(vec3{v(1.5 * au), 0, 0})},
	}})
	s.addNode(node{name: "Group", typ: "Node3D", parent: ".", props: []prop{
		{"transform", transform3D(identityBasis(), vec3{0, 2 * au, 0})},
	}})
	s.addNode(node{name: "PlanetC", parent: "Group", instance: part, props: []prop{
		{"transform", transform3D(identityBasis(), vec3{0, 0.5 * au, 0})},
		{"metadata/velocity", vector3(vec3{-v(2.5 * au), 0, 0})},
	}})
	return s, nil
}
