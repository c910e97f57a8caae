package ledger

// pendHeap is a min-heap of live pending transfers by (expiresAt, id), so
// expiry order is deterministic. Each pend knows its position for removal.
type pendHeap []*pend

func (h pendHeap) less(i, j int) bool {
	if h[i].expiresAt != h[j].expiresAt {
		return h[i].expiresAt < h[j].expiresAt
	}
	return h[i].id < h[j].id
}

func (h pendHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapPos = int32(i)
	h[j].heapPos = int32(j)
}

func (h *pendHeap) push(p *pend) {
	p.heapPos = int32(len(*h))
	*h = append(*h, p)
	h.up(len(*h) - 1)
}

func (h *pendHeap) pop() *pend {
	p := (*h)[0]
	h.remove(p)
	return p
}

func (h *pendHeap) remove(p *pend) {
	i := int(p.heapPos)
	last := len(*h) - 1
	if i != last {
		h.swap(i, last)
	}
	(*h)[last] = nil
	*h = (*h)[:last]
	if i != last {
		h.down(i)
		h.up(i)
	}
	p.heapPos = -1
}

func (h pendHeap) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !h.less(i, parent) {
			return
		}
		h.swap(i, parent)
		i = parent
	}
}

func (h pendHeap) down(i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		small := l
		if r := l + 1; r < n && h.less(r, l) {
			small = r
		}
		if !h.less(small, i) {
			return
		}
		h.swap(i, small)
		i = small
	}
}
