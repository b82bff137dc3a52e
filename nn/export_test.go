package nn

// SetRemapBytes sets how much data Store.Load reads through one mapping of the file and
// returns the previous value (tests use a tiny value to exercise the re-mapping).
func SetRemapBytes(n int64) int64 {
	old := remapBytes
	remapBytes = n
	return old
}
