package redact

import (
	"slices"
	"strings"
)

// matcher is the compiled table of a Redactor: every form of every
// registered credential, grouped by their first anchorLen bytes. Tokens of
// one issuer share their header, so one scan of the text finds the places
// where any of them could start.
type matcher struct {
	pats   []pattern
	groups []group
	minLen int // the shortest form: shorter text cannot hold one
}

// anchorLen is how many leading bytes group patterns.
const anchorLen = ShortLen

type group struct {
	anchor string
	minLen int // the group's shortest pattern
	pats   []pattern
}

// newMatcher groups pats by anchor.
func newMatcher(pats []pattern) *matcher {
	m := &matcher{pats: pats, minLen: len(pats[0].s)}
	index := map[string]int{}
	for _, p := range pats {
		m.minLen = min(m.minLen, len(p.s))
		a := p.s[:min(len(p.s), anchorLen)]
		i, ok := index[a]
		if !ok {
			i = len(m.groups)
			index[a] = i
			m.groups = append(m.groups, group{anchor: a, minLen: len(p.s)})
		}
		m.groups[i].pats = append(m.groups[i].pats, p)
		m.groups[i].minLen = min(m.groups[i].minLen, len(p.s))
	}
	return m
}

type pattern struct {
	s     string
	label string
	short bool // shorter than ShortLen: replaced only where it stands alone
}

// match is one occurrence of a pattern in the text.
type match struct {
	start, end int
	label      string
}

// redact finds every occurrence of every pattern, merges the ones that
// overlap and replaces each merged stretch with the labels of its
// credentials. Occurrences are found independently, so that a credential
// overlapping another is still covered whole.
func (m *matcher) redact(text string) string {
	var protected [][]int
	if strings.Contains(text, " sha256:") {
		protected = labelRE.FindAllStringIndex(text, -1)
	}
	overlapsLabel := func(start, end int) bool {
		for _, p := range protected {
			if start < p[1] && p[0] < end {
				return true
			}
		}
		return false
	}
	var found, short []match
	for _, g := range m.groups {
		for i := 0; i <= len(text)-g.minLen; {
			j := strings.Index(text[i:], g.anchor)
			if j < 0 {
				break
			}
			at := i + j
			i = at + 1
			for _, p := range g.pats {
				if !strings.HasPrefix(text[at:], p.s) {
					continue
				}
				mt := match{start: at, end: at + len(p.s), label: p.label}
				switch {
				case overlapsLabel(mt.start, mt.end):
				case p.short:
					short = append(short, mt)
				default:
					found = append(found, mt)
				}
			}
		}
	}
	if len(short) > 0 {
		found = acceptShort(text, found, short)
	}
	if len(found) == 0 {
		return text
	}
	slices.SortFunc(found, func(a, b match) int {
		if a.start != b.start {
			return a.start - b.start
		}
		return b.end - a.end
	})
	var sb strings.Builder
	sb.Grow(len(text))
	at := 0 // text before at is written or replaced
	last := ""
	for _, mt := range found {
		if mt.end <= at {
			continue // inside what is replaced already
		}
		if mt.start >= at {
			sb.WriteString(text[at:mt.start])
			last = ""
		}
		if mt.label != last {
			sb.WriteString(mt.label)
			last = mt.label
		}
		at = mt.end
	}
	sb.WriteString(text[at:])
	return sb.String()
}

// acceptShort adds to found the occurrences of short forms that stand
// alone: each neighbouring byte is not an ASCII letter or digit, or is
// replaced itself. Accepting one can free another, so it repeats until
// nothing changes; that makes the result the same on a second pass.
func acceptShort(text string, found, short []match) []match {
	covered := make([]bool, len(text))
	cover := func(mt match) {
		for k := mt.start; k < mt.end; k++ {
			covered[k] = true
		}
	}
	for _, mt := range found {
		cover(mt)
	}
	apart := func(k int) bool {
		return k < 0 || k >= len(text) || covered[k] || !isAlnum(text[k])
	}
	for changed := true; changed; {
		changed = false
		rest := short[:0]
		for _, mt := range short {
			if apart(mt.start-1) && apart(mt.end) {
				found = append(found, mt)
				cover(mt)
				changed = true
			} else {
				rest = append(rest, mt)
			}
		}
		short = rest
	}
	return found
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
