package tokenizer

// This file holds the BPE merge loop. It follows sentencepiece's
// bpe::Model::SampleEncode (without dropout): start from characters (and
// whole user-defined pieces, which are frozen), repeatedly merge the
// adjacent pair whose concatenation is a vocabulary piece with the highest
// score (ties: leftmost), then split UNUSED pieces back into the pair they
// were merged from.

// span is a byte range of the normalized text.
type span struct{ start, end int32 }

// symbol is one node of the doubly-linked list of current pieces. A symbol
// merged into its left neighbour becomes empty (start == end).
type symbol struct {
	span
	prev, next int32 // neighbour indices, -1 at the ends
	freeze     bool  // user-defined piece: never merged
}

// pair is a merge candidate. It is stale when either side has changed since
// it was pushed, which the size check detects (pieces only grow).
type pair struct {
	score       float32
	left, right int32
	size        int32
}

// segment is one output piece of the BPE stage: a span and its id.
type segment struct {
	span
	id int32
}

// encodeState is the scratch memory of one Encode call; Tokenizer keeps a
// pool of them.
type encodeState struct {
	buf      []byte // normalized text being built
	text     string // normalized text
	symbols  []symbol
	heap     []pair
	out      []segment
	revMerge map[string][2]span // UNUSED piece → the pair it was merged from
}

// oneCharLen is sentencepiece's string_util::OneCharLen: the UTF-8 sequence
// length implied by a lead byte (1 for stray continuation bytes).
func oneCharLen(c byte) int {
	switch {
	case c < 0xc0:
		return 1
	case c < 0xe0:
		return 2
	case c < 0xf0:
		return 3
	}
	return 4
}

// mergeable reports whether BPE may produce a piece of type typ (the
// pieces_ map of sentencepiece: normal, user-defined and unused pieces).
func mergeable(typ PieceType) bool {
	return typ == Normal || typ == UserDefined || typ == Unused
}

// bpe segments st.text into st.out.
func (t *Tokenizer) bpe(st *encodeState) {
	text := st.text
	syms := st.symbols[:0]
	for i := 0; i < len(text); {
		l, freeze := 0, false
		if t.user != nil {
			l, freeze = t.user.match(text[i:])
		}
		if !freeze {
			l = min(oneCharLen(text[i]), len(text)-i)
		}
		idx := int32(len(syms))
		s := symbol{span: span{int32(i), int32(i + l)}, prev: idx - 1, next: idx + 1, freeze: freeze}
		i += l
		if i == len(text) {
			s.next = -1
		}
		syms = append(syms, s)
	}
	st.symbols = syms
	st.heap = st.heap[:0]
	if st.revMerge != nil {
		clear(st.revMerge)
	}

	// Merge word by word when no piece can span a word start (see
	// splitAtSpace): the heap stays small, and since merges in separate
	// words never interact, the result is the same as for one global queue.
	start := 0
	for i := 1; i <= len(syms); i++ {
		if i < len(syms) && !(t.splitAtSpace && t.wordStart(st, i)) {
			continue
		}
		for j := start + 1; j < i; j++ {
			t.addPair(st, int32(j-1), int32(j))
		}
		t.mergeAll(st)
		start = i
	}

	st.out = st.out[:0]
	if len(syms) == 0 {
		return
	}
	for i := int32(0); i != -1; i = syms[i].next {
		t.resegment(st, syms[i].span)
	}
}

// wordStart reports whether symbol i is a lone "▁" after a symbol that is
// not "▁": the start of a word.
func (t *Tokenizer) wordStart(st *encodeState, i int) bool {
	s, p := st.symbols[i], st.symbols[i-1]
	return !s.freeze && st.text[s.start:s.end] == spaceSymbol && st.text[p.start:p.end] != spaceSymbol
}

// mergeAll applies the queued merges in order, queueing the pairs each
// merge creates, until no merge is left.
func (t *Tokenizer) mergeAll(st *encodeState) {
	syms := st.symbols
	for len(st.heap) > 0 {
		top := st.popPair()
		l, r := &syms[top.left], &syms[top.right]
		if l.start == l.end || r.start == r.end || (l.end-l.start)+(r.end-r.start) != top.size {
			continue
		}
		l.end = r.end
		l.next = r.next
		if r.next >= 0 {
			syms[r.next].prev = top.left
		}
		r.start = r.end
		t.addPair(st, l.prev, top.left)
		t.addPair(st, top.left, l.next)
	}
}

// addPair pushes the merge of symbols left and right when their
// concatenation is a mergeable piece.
func (t *Tokenizer) addPair(st *encodeState, left, right int32) {
	if left < 0 || right < 0 {
		return
	}
	l, r := &st.symbols[left], &st.symbols[right]
	if l.freeze || r.freeze {
		return
	}
	piece := st.text[l.start:r.end]
	id, ok := t.ids[piece]
	if !ok {
		return
	}
	p := &t.pieces[id]
	if !mergeable(p.typ) {
		return
	}
	st.pushPair(pair{score: p.score, left: left, right: right, size: r.end - l.start})
	if p.typ == Unused {
		if st.revMerge == nil {
			st.revMerge = make(map[string][2]span)
		}
		st.revMerge[piece] = [2]span{l.span, r.span}
	}
}

// resegment appends the segment for s to st.out, splitting UNUSED pieces
// back into the pieces they were merged from.
func (t *Tokenizer) resegment(st *encodeState, s span) {
	w := st.text[s.start:s.end]
	id, ok := t.ids[w]
	if !ok {
		id = int32(t.unk)
	}
	if t.pieces[id].typ == Unused {
		if halves, ok := st.revMerge[w]; ok {
			t.resegment(st, halves[0])
			t.resegment(st, halves[1])
			return
		}
	}
	st.out = append(st.out, segment{span: s, id: id})
}

// before orders the agenda: higher score first, then leftmost.
func (a pair) before(b pair) bool {
	return a.score > b.score || (a.score == b.score && a.left < b.left)
}

// pushPair adds p to the binary heap st.heap.
func (st *encodeState) pushPair(p pair) {
	h := append(st.heap, p)
	i := len(h) - 1
	for i > 0 {
		parent := (i - 1) / 2
		if !h[i].before(h[parent]) {
			break
		}
		h[i], h[parent] = h[parent], h[i]
		i = parent
	}
	st.heap = h
}

// popPair removes and returns the first pair of the heap.
func (st *encodeState) popPair() pair {
	h := st.heap
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		best := l
		if r := l + 1; r < n && h[r].before(h[l]) {
			best = r
		}
		if !h[best].before(h[i]) {
			break
		}
		h[i], h[best] = h[best], h[i]
		i = best
	}
	st.heap = h
	return top
}
