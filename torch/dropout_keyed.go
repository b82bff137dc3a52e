package torch

// keyedPrime is the modulus of keyed dropout's hash, 2³¹−1: the square of a residue fits an
// int64, so the hash runs in plain int64 tensor arithmetic on every device.
const keyedPrime = 1<<31 - 1

// splitMix64 is one step of the SplitMix64 generator (a bijective 64-bit mixer).
func splitMix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// keyedDropout is Dropout in a scope with row keys. Row b of x (its first dimension) keeps
// the element at flat place e of the row (row-major over the remaining dimensions) when
// h(e) ≥ p·(2³¹−1), where h is a hash modulo the prime 2³¹−1,
//
//	y = (e·A_b + C_b + c) mod P,  z = (y² + D_b + K) mod P,  h = z² mod P,
//
// A_b ≥ 1, C_b and D_b come from the row's key through SplitMix64, and c is one integer in
// [0, P) drawn from g on x's device for each call (so the masks of successive dropouts
// differ, and the draws follow g's state as random ops do: saving and restoring g repeats
// them). The kept elements are scaled by 1/(1-p), as F.dropout scales them. A row's mask
// depends on nothing else: not on the other rows, and for a prefix of the row (the real
// tokens of a right-padded sequence) not on how long the row is.
func keyedDropout(s *Scope, x *Tensor, p float64, g *Generator) *Tensor {
	keys := s.rowKeys
	if x.Dim() == 0 || x.Size(0) != int64(len(keys)) {
		fail("dropout", ErrShape, "the scope's row keys name %d rows, the input has shape %v (keyed dropout draws row b "+
			"of the first dimension from key b)", len(keys), x.Shape())
	}
	if p >= 1 {
		return x.MulScalar(s, 0)
	}
	rows := int64(len(keys))
	n := x.Numel() / max(rows, 1)
	if n >= keyedPrime {
		fail("dropout", ErrShape, "keyed dropout hashes element places below 2³¹−1, a row of shape %v has %d", x.Shape()[1:], n)
	}
	coef := make([]int64, 3*rows)
	for b, k := range keys {
		h1 := splitMix64(k)
		h2 := splitMix64(h1)
		h3 := splitMix64(h2)
		coef[b] = 1 + int64(h1%(keyedPrime-1))
		coef[rows+int64(b)] = int64(h2 % keyedPrime)
		coef[2*rows+int64(b)] = int64(h3%keyedPrime) + 0x5bd1e995%keyedPrime
	}
	w := s.On(x.Device())
	defer w.Close()
	ab := FromSlice(w, coef, 3, rows, 1)
	a, cb, db := ab.Select(w, 0, 0), ab.Select(w, 0, 1), ab.Select(w, 0, 2)
	call := Randint(w, g, 0, keyedPrime, 1)
	mod := Full(w, keyedPrime, Int64)
	e := Arange(w, 0, float64(n), 1, Int64).Reshape(w, 1, n)
	y := e.Mul(w, a).Add(w, cb).Add(w, call).Remainder(w, mod)
	z := y.Mul(w, y).Add(w, db).Remainder(w, mod)
	h := z.Mul(w, z).Remainder(w, mod)
	mask := h.GeScalar(w, p*keyedPrime).ToDType(w, x.DType()).MulScalar(w, 1/(1-p)).Reshape(w, x.Shape()...)
	return x.Mul(s, mask)
}
