package e2e_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/twilio-operator/voice-operator/internal/localenv"
	"github.com/twilio-operator/voice-operator/internal/voicesim"
)

// tenant is one spec's world: a fresh namespace, a simulator account of its
// own, and a kustomize overlay of config/samples for both. The overlay is
// what a user writes to point the samples at their own account; here it
// keeps specs apart, since unique names and the default are per account.
type tenant struct {
	ns, account, token string
	// overlay is the folder to pass to `kubectl apply -k`.
	overlay string
}

// newTenant creates the namespace with kubectl, registers the account with
// the simulator and writes the overlay. When the spec ends, it deletes what
// the spec left of both kinds, waiting for the finalizers, so that no spec
// leaves objects reconciling behind it.
func newTenant(ctx context.Context) tenant {
	GinkgoHelper()
	t := tenant{ns: "e2e-" + localenv.RandomHex(4), account: "AC" + localenv.RandomHex(16), token: "token-" + localenv.RandomHex(8)}
	Expect(sim.AddAccount(ctx, t.account, t.token)).To(Succeed())
	kubectl(ctx, "create", "namespace", t.ns)
	// As the README says: the Secret first, from the account's values.
	kubectl(ctx, "create", "secret", "generic", "twilio-credentials", "-n", t.ns,
		"--from-literal=TWILIO_ACCOUNT_SID="+t.account, "--from-literal=TWILIO_AUTH_TOKEN="+t.token)
	t.overlay = writeOverlay(t)
	DeferCleanup(func(ctx SpecContext) {
		kubectl(ctx, "delete", "clientconfiguration,accountdefault", "--all", "-n", t.ns, "--ignore-not-found", "--timeout=60s")
		kubectl(ctx, "delete", "namespace", t.ns, "--ignore-not-found", "--wait=false")
	}, NodeTimeout(90*time.Second))
	return t
}

// writeOverlay writes a kustomization that takes config/samples as they are
// and changes only the namespace.
func writeOverlay(t tenant) string {
	GinkgoHelper()
	dir := GinkgoT().TempDir()
	samples, err := filepath.Rel(dir, filepath.Join(root, "config", "samples"))
	Expect(err).NotTo(HaveOccurred())
	kustomization := fmt.Sprintf(`# config/samples, in namespace %[1]s.
namespace: %[1]s
resources:
- %[2]s
`, t.ns, filepath.ToSlash(samples))
	Expect(os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(kustomization), 0o600)).To(Succeed())
	return dir
}

// waitReady is what the README tells a person to run after an apply.
func (t tenant) waitReady(ctx context.Context) {
	GinkgoHelper()
	kubectl(ctx, "wait", "--for=condition=Ready", "--timeout=60s", "-n", t.ns, "clientconfiguration", "--all")
	kubectl(ctx, "wait", "--for=condition=Ready", "--timeout=60s", "-n", t.ns, "accountdefault", "--all")
}

// remote returns the tenant's account as the simulator holds it.
func (t tenant) remote(ctx context.Context, g Gomega) voicesim.AccountState {
	state, err := sim.Account(ctx, t.account)
	g.Expect(err).NotTo(HaveOccurred())
	return state
}

// remoteByName returns the tenant's remote configurations with this unique
// name.
func (t tenant) remoteByName(ctx context.Context, g Gomega, name string) []voicesim.Record {
	var out []voicesim.Record
	for _, r := range t.remote(ctx, g).Configurations {
		if r.UniqueName == name {
			out = append(out, r)
		}
	}
	return out
}

// remoteByID returns the tenant's remote configuration with this id, or nil.
func (t tenant) remoteByID(ctx context.Context, g Gomega, id string) *voicesim.Record {
	for _, r := range t.remote(ctx, g).Configurations {
		if r.ID == id {
			return &r
		}
	}
	return nil
}

// table is one block of `kubectl get` output: its column headers, in order,
// and its rows as header → cell.
type table struct {
	headers []string
	rows    []map[string]string
}

// row returns the row whose NAME is name (kind/name when kubectl prints
// several kinds), failing the assertion when there is none.
func (t table) row(g Gomega, name string) map[string]string {
	for _, r := range t.rows {
		if r["NAME"] == name {
			return r
		}
	}
	g.Expect(t.rows).To(ContainElement(HaveKeyWithValue("NAME", name)))
	return nil
}

// columnGap separates kubectl's columns: it pads them with at least three
// spaces, while a header such as "UNIQUE NAME" holds one.
var columnGap = regexp.MustCompile(` {2,}`)

// parseTables reads kubectl's table output: blocks separated by blank lines,
// each a header line and rows aligned with it. Cells are cut at the columns'
// starting offsets, so a cell may hold spaces (the Message column does).
func parseTables(out string) []table {
	var tables []table
	for _, block := range strings.Split(strings.TrimSpace(out), "\n\n") {
		lines := strings.Split(block, "\n")
		header := lines[0]
		var starts []int
		var t table
		for _, loc := range columnGap.FindAllStringIndex(header, -1) {
			starts = append(starts, loc[1])
		}
		starts = append([]int{0}, starts...)
		for i, start := range starts {
			t.headers = append(t.headers, strings.TrimSpace(cut(header, start, starts, i)))
		}
		for _, line := range lines[1:] {
			r := map[string]string{}
			for i, start := range starts {
				r[t.headers[i]] = strings.TrimSpace(cut(line, start, starts, i))
			}
			t.rows = append(t.rows, r)
		}
		tables = append(tables, t)
	}
	return tables
}

// cut returns line's cell of column i, which begins at start and ends where
// column i+1 begins.
func cut(line string, start int, starts []int, i int) string {
	if start >= len(line) {
		return ""
	}
	end := len(line)
	if i+1 < len(starts) && starts[i+1] < end {
		end = starts[i+1]
	}
	return line[start:end]
}

// writesIn sums the write calls (everything but GET) among the simulator's
// counters.
func writesIn(calls map[string]int) int {
	n := 0
	for route, count := range calls {
		if !strings.HasPrefix(route, "GET ") {
			n += count
		}
	}
	return n
}

// readsIn sums the GET calls among the simulator's counters.
func readsIn(calls map[string]int) int {
	n := 0
	for route, count := range calls {
		if strings.HasPrefix(route, "GET ") {
			n += count
		}
	}
	return n
}

// widest is the length of the longest line of out.
func widest(out string) int {
	n := 0
	for _, line := range strings.Split(out, "\n") {
		n = max(n, len([]rune(line)))
	}
	return n
}

// logLines returns the lines of the operator's log that hold both texts.
func logLines(about, text string) []string {
	data, err := os.ReadFile(operatorLog)
	Expect(err).NotTo(HaveOccurred())
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, about) && strings.Contains(line, text) {
			out = append(out, line)
		}
	}
	return out
}

// kubectlIn runs kubectl with stdin as its standard input.
func kubectlIn(ctx context.Context, stdin string, args ...string) string {
	GinkgoHelper()
	out, err := cp.Kubectl.RunWithInput(ctx, stdin, args...)
	Expect(err).NotTo(HaveOccurred())
	return out
}
