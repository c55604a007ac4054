package export

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
)

// maxNameLength keeps object names valid DNS-1123 labels, which also makes
// them usable as file names and in label values.
const maxNameLength = 63

// objectNames maps each unique name to a Kubernetes object name: lower
// case, every run of characters outside [a-z0-9] one "-", at most 63
// characters. Names that would clash (two unique names that differ only in
// case or punctuation), or that have nothing left, get "-" and a short hash
// of the unique name, lengthened until every name is distinct. The result
// depends only on the set of unique names, never on their order.
func objectNames(uniqueNames []string) map[string]string {
	uniqueNames = slices.Clone(uniqueNames)
	slices.Sort(uniqueNames)
	uniqueNames = slices.Compact(uniqueNames)

	base := make(map[string]string, len(uniqueNames))
	users := map[string]int{}
	for _, u := range uniqueNames {
		b := truncate(slug(u), maxNameLength)
		base[u] = b
		users[b]++
	}
	names := make(map[string]string, len(uniqueNames))
	taken := map[string]bool{}
	for _, u := range uniqueNames {
		if b := base[u]; b != "" && users[b] == 1 {
			names[u] = b
			taken[b] = true
		}
	}
	// The hashed names, in a fixed order; a hash prefix that clashes with a
	// name already given is lengthened.
	for _, u := range uniqueNames {
		if _, done := names[u]; done {
			continue
		}
		sum := sha256.Sum256([]byte(u))
		digest := hex.EncodeToString(sum[:])
		for n := 6; ; n += 4 {
			prefix := base[u]
			if prefix == "" {
				prefix = "configuration"
			}
			name := truncate(prefix, maxNameLength-1-n) + "-" + digest[:n]
			if !taken[name] {
				names[u], taken[name] = name, true
				break
			}
		}
	}
	return names
}

// slug lowercases s and replaces every run of characters outside [a-z0-9]
// with one "-", trimmed at both ends.
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
			continue
		}
		if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimRight(b.String(), "-")
}

// truncate cuts an ASCII slug to at most n bytes without a trailing "-".
func truncate(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.TrimRight(s, "-")
}
