//go:build race

package torch_test

// raceEnabled: the race detector's shadow memory grows with every allocation and is never
// returned, so RSS checks do not hold under -race.
const raceEnabled = true
