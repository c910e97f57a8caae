package ledger

// idTable maps transfer ids to their tEntry. It is an open-addressing hash
// table with linear probing: a lookup and the insert that follows it touch
// the same cache line, which matters because the table holds every transfer
// ever committed and is far larger than the CPU caches. Runs of 64
// consecutive ids (ids are often allocated in sequence) share an aligned
// bucket; buckets are spread by Fibonacci hashing, which places consecutive
// runs far apart without collisions. 40 bytes per slot,
// at most 3/4 full.
type idTable = table[TransferID, tEntry]

// accountTable maps account ids to their position in machine.accs.
type accountTable = table[AccountID, int32]

// table is the open-addressing hash table behind idTable and accountTable;
// key 0 marks an empty slot (0 is never a valid id).
type table[K ~uint64, V any] struct {
	slots []slot[K, V]
	n     int
	shift uint8
}

type slot[K ~uint64, V any] struct {
	id K // 0 = empty
	e  V
}

const idTableMinSlots = 1 << 10

func (t *table[K, V]) init(slots int) {
	size := idTableMinSlots
	shift := uint8(64 - 10)
	for size < slots {
		size <<= 1
		shift--
	}
	t.slots = make([]slot[K, V], size)
	t.shift = shift
	t.n = 0
}

func (t *table[K, V]) home(id K) int {
	bucket := (uint64(id) >> idRunBits) * 0x9E3779B97F4A7C15 >> (t.shift + idRunBits)
	return int(bucket<<idRunBits | uint64(id)&(1<<idRunBits-1))
}

// idRunBits: runs of 1<<idRunBits consecutive ids share one aligned bucket,
// so ids allocated in sequence stay next to each other in memory.
const idRunBits = 6

// get returns the entry of id.
func (t *table[K, V]) get(id K) (V, bool) {
	var zero V
	if t.slots == nil || id == 0 {
		return zero, false
	}
	mask := len(t.slots) - 1
	for i := t.home(id); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.id == id {
			return s.e, true
		}
		if s.id == 0 {
			return zero, false
		}
	}
}

// put inserts or replaces the entry of id (id ≠ 0).
func (t *table[K, V]) put(id K, e V) {
	if t.slots == nil {
		t.init(0)
	}
	if (t.n+1)*4 > len(t.slots)*3 {
		t.grow()
	}
	mask := len(t.slots) - 1
	for i := t.home(id); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.id == id {
			s.e = e
			return
		}
		if s.id == 0 {
			s.id, s.e = id, e
			t.n++
			return
		}
	}
}

// del removes id, shifting later members of its probe run back so that
// lookups never stop early.
func (t *table[K, V]) del(id K) {
	if t.slots == nil || id == 0 {
		return
	}
	mask := len(t.slots) - 1
	i := t.home(id)
	for t.slots[i].id != id {
		if t.slots[i].id == 0 {
			return
		}
		i = (i + 1) & mask
	}
	for j := (i + 1) & mask; t.slots[j].id != 0; j = (j + 1) & mask {
		h := t.home(t.slots[j].id)
		// move slot j to the hole at i if its home is not in (i, j].
		if (j > i && (h <= i || h > j)) || (j < i && h <= i && h > j) {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = slot[K, V]{}
	t.n--
}

func (t *table[K, V]) grow() {
	old := t.slots
	t.init(len(old) * 2)
	for i := range old {
		if old[i].id != 0 {
			t.put(old[i].id, old[i].e)
		}
	}
}

// len returns the number of entries.
func (t *table[K, V]) len() int { return t.n }
