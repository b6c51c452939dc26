package sbom

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
)

// The bounds rpm itself puts on a header (lib/header_internal.h).
const (
	rpmHeaderTagsMax = 0xffff
	rpmHeaderDataMax = 0x0fffffff
	rpmEntrySize     = 16
)

// rpm tag data types (lib/rpmtag.h) and the sizes and alignments of their
// elements; -1 is a NUL-terminated string.
const (
	rpmStringType      = 6
	rpmStringArrayType = 8
	rpmI18NStringType  = 9
	rpmMaxType         = 9
)

var (
	rpmTypeSizes = [rpmMaxType + 1]int64{0, 1, 1, 2, 4, 8, -1, 1, -1, -1}
	rpmTypeAlign = [rpmMaxType + 1]int64{1, 1, 1, 2, 4, 8, 1, 1, 1, 1}
)

// rpmEntry is one entry of a header's index, as stored (big-endian).
type rpmEntry struct {
	tag    int32
	typ    uint32
	offset int32
	count  uint32
}

// checkRPMHeader checks that an rpm header blob holds what it declares
// before go-rpmdb parses it: go-rpmdb allocates the index length the blob
// declares before comparing it with the blob's length (il = 0x7fffffff
// makes it allocate 32 GiB), loops over declared string counts without
// progress, and panics on a region that lists no entry. The checks are rpm's
// own (hdrblobInit, hdrblobVerifyRegion, hdrblobVerifyInfo), which every
// header rpm wrote passes, plus the data length go-rpmdb computes: a header
// that passes is parsed by go-rpmdb in time and memory linear in its length.
func checkRPMHeader(blob []byte) error {
	if len(blob) < 8 {
		return fmt.Errorf("the header is %d bytes, shorter than its 8-byte preamble", len(blob))
	}
	il := int64(int32(binary.BigEndian.Uint32(blob)))
	dl := int64(int32(binary.BigEndian.Uint32(blob[4:])))
	if il < 1 || il > rpmHeaderTagsMax {
		return fmt.Errorf("the header declares %d index entries, not 1 to %d", il, rpmHeaderTagsMax)
	}
	if dl < 0 || dl > rpmHeaderDataMax {
		return fmt.Errorf("the header declares %d bytes of data, not 0 to %d", dl, rpmHeaderDataMax)
	}
	dataStart := 8 + rpmEntrySize*il
	if need := dataStart + dl; need > int64(len(blob)) {
		return fmt.Errorf("the header declares %d index entries and %d bytes of data, %d bytes in all, more than the %d bytes it holds", il, dl, need, len(blob))
	}
	data := blob[dataStart : dataStart+dl]
	entry := func(i int64) rpmEntry {
		b := blob[8+rpmEntrySize*i:]
		return rpmEntry{
			tag:    int32(binary.BigEndian.Uint32(b)),
			typ:    binary.BigEndian.Uint32(b[4:]),
			offset: int32(binary.BigEndian.Uint32(b[8:])),
			count:  binary.BigEndian.Uint32(b[12:]),
		}
	}

	// A region tag (immutable, image or signatures) first says how many
	// entries the region holds, in a trailer entry at its offset.
	first := entry(0)
	region := first.tag == 61 || first.tag == 62 || first.tag == 63
	ril := il
	if region {
		if first.typ != 7 || first.count != rpmEntrySize {
			return fmt.Errorf("the header's region tag %d has type %d and count %d, not 7 and %d", first.tag, first.typ, first.count, rpmEntrySize)
		}
		off := int64(first.offset)
		if off < 0 || off+rpmEntrySize > dl {
			return fmt.Errorf("the header's region trailer at %d is outside its %d bytes of data", off, dl)
		}
		trailer := -int64(int32(binary.BigEndian.Uint32(data[off+8:])))
		ril = trailer / rpmEntrySize
		if trailer%rpmEntrySize != 0 || ril < 1 || ril > il {
			return fmt.Errorf("the header's region declares %d bytes of index entries, not a multiple of %d from %d to %d", trailer, rpmEntrySize, rpmEntrySize, rpmEntrySize*il)
		}
	}

	start := int64(0)
	if region {
		start = 1
	}
	lengths := make([]int64, il)
	end := int64(0)
	for i := start; i < il; i++ {
		e := entry(i)
		if e.tag < 100 {
			return fmt.Errorf("header entry %d has tag %d, below 100", i, e.tag)
		}
		if e.typ > rpmMaxType {
			return fmt.Errorf("header entry %d has type %d, above %d", i, e.typ, rpmMaxType)
		}
		off := int64(e.offset)
		if off < end || off > dl {
			return fmt.Errorf("header entry %d has data at %d, not between the previous entry's end %d and the data's end %d", i, off, end, dl)
		}
		if off%rpmTypeAlign[e.typ] != 0 {
			return fmt.Errorf("header entry %d of type %d is at %d, not aligned", i, e.typ, off)
		}
		n := rpmDataLength(data, e.typ, e.count, off)
		if n <= 0 || off+n > dl {
			return fmt.Errorf("header entry %d declares %d elements of type %d at %d, more than its %d bytes of data hold", i, e.count, e.typ, off, dl)
		}
		if types, ok := rpmTagTypes[e.tag]; ok && !slices.Contains(types, e.typ) {
			return fmt.Errorf("header entry %d, tag %d, has type %d, not %v", i, e.tag, e.typ, types)
		}
		if e.tag == rpmTagPGP && !rpmPGPFits(data[off:off+n]) {
			return fmt.Errorf("header entry %d, a PGP signature, is %d bytes, shorter than its kind", i, n)
		}
		lengths[i] = n
		end = off + n
	}

	// The data length go-rpmdb adds up (regionSwab) must be the declared
	// one, else it fails and leaves its reader goroutine blocked.
	if !region {
		if n := rpmSwabLength(blob, entry, lengths, 0, il, 0); n != dl {
			return fmt.Errorf("the header's entries hold %d bytes of data, not the %d it declares", n, dl)
		}
		return nil
	}
	if first.offset == 0 {
		ril = il
	}
	n := rpmSwabLength(blob, entry, lengths, 1, ril, 0)
	if ril < il {
		n = rpmSwabLength(blob, entry, lengths, ril, il, n)
	}
	if n+rpmEntrySize != dl {
		return fmt.Errorf("the header's entries hold %d bytes of data, not the %d it declares", n+rpmEntrySize, dl)
	}
	return nil
}

// rpmTagTypes are the types go-rpmdb requires of the tags it reads
// (getNEVRA): another fails the database, leaving its reader goroutine
// blocked, so the check refuses it first.
var rpmTagTypes = map[int32][]uint32{
	1000: {6}, 1001: {6}, 1002: {6}, 1011: {6}, 1014: {6}, 1022: {6}, 1044: {6}, 5096: {6},
	1004: {6, 9},
	1003: {4}, 1008: {4}, 1009: {4}, 1028: {4}, 1037: {4}, 1116: {4}, 5011: {4},
	1030: {3},
	1035: {8}, 1039: {8}, 1040: {8}, 1047: {8}, 1049: {8}, 1117: {8}, 1118: {8},
	rpmTagPGP: {7},
}

const rpmTagPGP = 259

// rpmPGPFits reports whether a PGP signature holds the fields go-rpmdb
// reads of its kind: a 3-byte head, then 17, 24 or 35 bytes.
func rpmPGPFits(sig []byte) bool {
	if len(sig) < 3 {
		return false
	}
	need := 0
	switch sig[1] {
	case 1:
		need = 17
		if sig[2] == 0x1c {
			need = 24
		}
	case 2:
		need = 17
		if sig[2] == 0x33 {
			need = 35
		}
	}
	return len(sig)-3 >= need
}

// rpmSwabLength adds the data lengths of entries [from, to) to dl as
// go-rpmdb's regionSwab does: a string entry other than the last runs to
// the next entry's offset, the others are as long as their elements.
func rpmSwabLength(blob []byte, entry func(int64) rpmEntry, lengths []int64, from, to, dl int64) int64 {
	for i := from; i < to; i++ {
		e := entry(i)
		n := lengths[i]
		if i < to-1 && rpmTypeSizes[e.typ] == -1 {
			n = int64(entry(i+1).offset) - int64(e.offset)
		}
		// Padded to the entry's alignment from the sum so far.
		if size := rpmTypeSizes[e.typ]; size > 1 && dl%size != 0 {
			n += size - dl%size
		}
		dl += n
	}
	return dl
}

// rpmDataLength is the length of an entry's data at off: count strings
// each ending in a NUL, or count elements of a fixed size; -1 if they do
// not fit.
func rpmDataLength(data []byte, typ, count uint32, off int64) int64 {
	switch typ {
	case rpmStringType, rpmStringArrayType, rpmI18NStringType:
		if typ == rpmStringType && count != 1 {
			return -1
		}
		pos := off
		for range count {
			i := bytes.IndexByte(data[pos:], 0)
			if i < 0 {
				return -1
			}
			pos += int64(i) + 1
		}
		return pos - off
	default:
		return rpmTypeSizes[typ] * int64(count)
	}
}
