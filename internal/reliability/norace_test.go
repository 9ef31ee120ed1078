//go:build !race

package reliability

// raceEnabled reports a build with the race detector, whose shadow memory
// adds to every RSS figure.
const raceEnabled = false
