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
//
// On the CPU the mask is computed in one pass on the host (keyedMaskHost); on other devices
// with tensor ops (keyedMaskOps), which give the same mask: the tiny model's LoRA dropouts
// took 15% of its stage-0 step as a dozen int64 tensor ops each.
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
	w := s.On(x.Device())
	defer w.Close()
	call := Randint(w, g, 0, keyedPrime, 1)
	var mask *Tensor
	if x.Device() == CPU {
		mask = keyedMaskHost(w, keys, n, call.Int64s()[0], p)
	} else {
		mask = keyedMaskOps(w, keys, n, call, p, x.Device())
	}
	if x.DType() != Float32 {
		mask = mask.ToDType(w, x.DType())
	}
	return x.Mul(s, mask.MulScalar(w, 1/(1-p)).Reshape(w, x.Shape()...))
}

// keyedCoefs are the hash's A_b, C_b and D_b + K of each row key.
func keyedCoefs(k uint64) (a, c, d int64) {
	h1 := splitMix64(k)
	h2 := splitMix64(h1)
	h3 := splitMix64(h2)
	return 1 + int64(h1%(keyedPrime-1)), int64(h2 % keyedPrime), int64(h3%keyedPrime) + 0x5bd1e995%keyedPrime
}

// keyedMaskHost is keyed dropout's mask (rows, n) of 0 and 1 in float32 for the call's draw
// c, computed on the host. The comparison is in float32, as the tensor comparison of the
// int64 hash with the float threshold promotes both to the default float dtype.
func keyedMaskHost(w *Scope, keys []uint64, n, c int64, p float64) *Tensor {
	thr := float32(p * keyedPrime)
	out := make([]float32, int64(len(keys))*n)
	for b, k := range keys {
		a, cb, db := keyedCoefs(k)
		row := out[int64(b)*n : int64(b+1)*n]
		for e := range row {
			y := (int64(e)*a + cb + c) % keyedPrime
			z := (y*y + db) % keyedPrime
			if float32(z*z%keyedPrime) >= thr {
				row[e] = 1
			}
		}
	}
	return FromSlice(w, out, int64(len(keys)), n)
}

// keyedMaskOps is keyedMaskHost with tensor ops on dev, for the draw call (a (1,) int64
// tensor on dev).
func keyedMaskOps(w *Scope, keys []uint64, n int64, call *Tensor, p float64, dev Device) *Tensor {
	rows := int64(len(keys))
	coef := make([]int64, 3*rows)
	for b, k := range keys {
		coef[b], coef[rows+int64(b)], coef[2*rows+int64(b)] = keyedCoefs(k)
	}
	ab := FromSlice(w, coef, 3, rows, 1)
	a, cb, db := ab.Select(w, 0, 0), ab.Select(w, 0, 1), ab.Select(w, 0, 2)
	mod := Full(w, keyedPrime, Int64)
	e := Arange(w, 0, float64(n), 1, Int64).Reshape(w, 1, n)
	y := e.Mul(w, a).Add(w, cb).Add(w, call).Remainder(w, mod)
	z := y.Mul(w, y).Add(w, db).Remainder(w, mod)
	h := z.Mul(w, z).Remainder(w, mod)
	return h.GeScalar(w, p*keyedPrime).ToDType(w, Float32)
}
