package export_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
	"github.com/twilio-operator/voice-operator/internal/localenv"
	"github.com/twilio-operator/voice-operator/internal/localenv/kube"
	"github.com/twilio-operator/voice-operator/internal/voicesim"
)

var env *kube.Env

func TestMain(m *testing.M) {
	e, err := kube.StartEnv(context.Background(), "../..", log.Printf)
	if err != nil {
		log.Fatal(err)
	}
	env = e
	code := m.Run()
	env.Stop()
	os.Exit(code)
}

// seed is the account of the issue: 25 configurations, among them names
// with underscores, upper case, dots, a colon, 64 and 200 characters, two
// that map to the same Kubernetes name, one without a description, one
// notified with GET, one whose URL has an upper-case host and a port; and
// a default.
func seed() []voicesim.Record {
	desc := func(s string) *string { return &s }
	recs := []voicesim.Record{
		{UniqueName: "support_line_1", Description: desc("Support, first line"), CallNotificationURL: "https://support.example.com/voice/notify"},
		{UniqueName: "SalesTeam", Description: desc("Sales"), CallNotificationURL: "https://sales.example.com/notify"},
		{UniqueName: "eu.west.softphone", Description: desc("EU softphone"), CallNotificationURL: "https://eu.example.com/notify"},
		{UniqueName: "ops:pager", Description: desc("Ops \"pager\" line\nsecond line: ünïcode"), CallNotificationURL: "https://ops.example.com/pager?team=ops&level=1"},
		{UniqueName: strings.Repeat("a", 60) + "-064", Description: desc("64 characters"), CallNotificationURL: "https://long.example.com/64"},
		{UniqueName: "very_long_" + strings.Repeat("Name.", 38), Description: desc("200 characters"), CallNotificationURL: "https://long.example.com/200"},
		{UniqueName: "Front_Desk", Description: desc("Front desk (Console)"), CallNotificationURL: "https://desk.example.com/a"},
		{UniqueName: "front-desk", Description: desc("Front desk (script)"), CallNotificationURL: "https://desk.example.com/b"},
		{UniqueName: "no-description", CallNotificationURL: "https://plain.example.com/notify"},
		{UniqueName: "notified-with-get", Description: desc("GET webhook"), CallNotificationURL: "https://get.example.com/notify?x=1", CallNotificationMethod: "GET"},
		{UniqueName: "Mixed.Host", Description: desc("Host in upper case, with a port"), CallNotificationURL: "https://Voice.Example.COM:8443/Notify"},
		{UniqueName: "web-softphone", Description: desc("The default"), CallNotificationURL: "https://example.com/voice/notify"},
	}
	for i := len(recs); i < 25; i++ {
		recs = append(recs, voicesim.Record{UniqueName: fmt.Sprintf("team-%02d", i), Description: desc(fmt.Sprintf("Team %d", i)),
			CallNotificationURL: fmt.Sprintf("https://team%d.example.com/notify", i)})
	}
	if n := len(recs[5].UniqueName); n != 200 {
		panic(fmt.Sprintf("the long name has %d characters, want 200", n))
	}
	return recs
}

// TestExportApplyAdoptDeleteWritesNothing is the proof: export,
// kubectl apply, every object Ready with no POST, PUT or DELETE and no POST
// to the default; then delete everything, and the account is as it was.
func TestExportApplyAdoptDeleteWritesNothing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	ns := "export-" + localenv.RandomHex(3)
	must(t, env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	account, token := "AC"+localenv.RandomHex(16), "token-"+localenv.RandomHex(8)
	must(t, env.CreateSecret(ctx, ns, "twilio-credentials", account, token))
	ids := map[string]string{}
	for _, r := range seed() {
		id, err := env.Sim.CreateOutOfBand(account, r)
		must(t, err)
		ids[r.UniqueName] = id
	}
	must(t, env.Sim.SetDefaultOutOfBand(account, ids["web-softphone"]))
	before := remoteBytes(t, account, token)

	// Export: twice to stdout, identical; then into a folder.
	first := export(ctx, t, account, token, "--namespace", ns)
	if second := export(ctx, t, account, token, "--namespace", ns); !bytes.Equal(first, second) {
		t.Fatalf("two exports of an unchanged account differ:\n%s", lineDiff(first, second))
	}
	if bytes.Contains(first, []byte(token)) {
		t.Fatal("the export printed the auth token")
	}
	dir := filepath.Join(t.TempDir(), "voice")
	export(ctx, t, account, token, "--namespace", ns, "--output-dir", dir)
	files := readDir(t, dir)
	checkFiles(t, files)

	// A second export into the folder is refused, then --force writes the
	// same bytes.
	cmd := exportCommand(ctx, account, token, "--namespace", ns, "--output-dir", dir)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "not empty") {
		t.Fatalf("an export into a folder that holds the last one was not refused: %v\n%s", err, out)
	}
	export(ctx, t, account, token, "--namespace", ns, "--output-dir", dir, "--force")
	if again := readDir(t, dir); !equalFiles(files, again) {
		t.Fatal("an export with --force into the same folder wrote other bytes")
	}

	// Apply with the real kubectl, as a person would, and let the operator
	// adopt everything.
	env.Sim.ResetCalls()
	op, err := env.StartOperator(ctx, "--resync-period", "2s")
	must(t, err)
	t.Cleanup(func() {
		_ = op.Stop()
		if t.Failed() {
			t.Logf("the operator's log (last lines):\n%s", op.LogTail(40))
		}
	})
	kubectl(ctx, t, "apply", "-k", dir)
	var configurations voicev1alpha1.ClientConfigurationList
	kube.WaitFor(ctx, t, "every exported object Ready", func() bool {
		must(t, env.Client.List(ctx, &configurations, client.InNamespace(ns)))
		var def voicev1alpha1.AccountDefault
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "account-default"}, &def); err != nil || !ready(def.Status.Conditions, def.Generation) {
			return false
		}
		for _, c := range configurations.Items {
			if !ready(c.Status.Conditions, c.Generation) {
				return false
			}
		}
		return len(configurations.Items) == 25
	})
	for _, c := range configurations.Items {
		if c.Status.ID != ids[c.Spec.UniqueName] {
			t.Errorf("%s holds %s, want the id of %q, %s", c.Name, c.Status.ID, c.Spec.UniqueName, ids[c.Spec.UniqueName])
		}
	}
	// Three resyncs later, still nothing written.
	time.Sleep(6 * time.Second)
	checkNoWrites(t, "after the objects were applied and resynced")
	if after := remoteBytes(t, account, token); !bytes.Equal(before, after) {
		t.Fatalf("applying the export changed the account:\n%s", lineDiff(before, after))
	}

	// Delete every exported object: Orphan leaves the account as it was.
	kubectl(ctx, t, "delete", "-k", dir, "--wait=true", "--timeout=90s")
	checkNoWrites(t, "after the objects were deleted")
	if after := remoteBytes(t, account, token); !bytes.Equal(before, after) {
		t.Fatalf("deleting the exported objects changed the account:\n%s", lineDiff(before, after))
	}
	t.Logf("remote calls by route: %v", env.Sim.Calls())
}

// checkFiles checks the folder: 25 ClientConfigurations and an
// AccountDefault, a kustomization listing them, names valid and distinct,
// unique names verbatim.
func checkFiles(t *testing.T, files map[string][]byte) {
	t.Helper()
	var names []string
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	kustomization := string(files["kustomization.yaml"])
	configurations := 0
	for _, name := range names {
		if name == "kustomization.yaml" {
			continue
		}
		if !strings.Contains(kustomization, "- "+name+"\n") {
			t.Errorf("kustomization.yaml does not list %s", name)
		}
		object := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(name, "clientconfiguration-"), "accountdefault-"), ".yaml")
		if errs := validation.IsDNS1123Label(object); len(errs) > 0 {
			t.Errorf("object name %q: %v", object, errs)
		}
		if strings.HasPrefix(name, "clientconfiguration-") {
			configurations++
		}
	}
	if configurations != 25 || files["accountdefault-account-default.yaml"] == nil {
		t.Fatalf("the folder holds %v; want 25 ClientConfigurations and accountdefault-account-default.yaml", names)
	}
	for _, want := range []string{"support-line-1", "salesteam", "eu-west-softphone", "ops-pager", "no-description"} {
		if files["clientconfiguration-"+want+".yaml"] == nil {
			t.Errorf("no clientconfiguration-%s.yaml among %v", want, names)
		}
	}
	if files["clientconfiguration-front-desk.yaml"] != nil {
		t.Error("of the two unique names that map to front-desk, one took the plain name; both must get a suffix")
	}
	if !strings.Contains(kustomization, "deletionPolicy is Orphan") {
		t.Errorf("kustomization.yaml's header does not say deleting the objects leaves Twilio as it is:\n%s", kustomization)
	}
}

func checkNoWrites(t *testing.T, when string) {
	t.Helper()
	for _, route := range []string{
		"POST " + voicesim.RouteCollection, "PUT " + voicesim.RouteInstance, "DELETE " + voicesim.RouteInstance,
		"POST " + voicesim.RouteDefault, "DELETE " + voicesim.RouteDefault,
	} {
		if n := env.Sim.Calls()[route]; n != 0 {
			t.Errorf("%s: %d calls to %s, want 0", when, n, route)
		}
	}
}

// exportCommand is the built binary's export subcommand, with the
// credentials in the environment as Twilio's tools take them.
func exportCommand(ctx context.Context, account, token string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, env.Operator, append([]string{"export", "--voice-api-url", env.SimURL}, args...)...)
	cmd.Env = append(os.Environ(), "TWILIO_ACCOUNT_SID="+account, "TWILIO_AUTH_TOKEN="+token)
	return cmd
}

func export(ctx context.Context, t *testing.T, account, token string, args ...string) []byte {
	t.Helper()
	cmd := exportCommand(ctx, account, token, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("voice-operator export %v: %v\n%s", args, err, stderr.String())
	}
	if strings.Contains(stderr.String(), token) {
		t.Fatal("the export printed the auth token on stderr")
	}
	return out
}

// kubectl runs the real kubectl as a cluster admin.
func kubectl(ctx context.Context, t *testing.T, args ...string) {
	t.Helper()
	kubeconfig, err := env.AdminKubeconfig()
	must(t, err)
	cmd := exec.CommandContext(ctx, filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl"), append([]string{"--kubeconfig", kubeconfig}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kubectl %v: %v\n%s", args, err, out)
	}
}

// remoteBytes is the account as the API answers it: every page of the
// list and the default, exactly as sent.
func remoteBytes(t *testing.T, account, token string) []byte {
	t.Helper()
	var all bytes.Buffer
	get := func(path string) []byte {
		req, err := http.NewRequest(http.MethodGet, env.SimURL+path, nil)
		must(t, err)
		req.SetBasicAuth(account, token)
		resp, err := http.DefaultClient.Do(req)
		must(t, err)
		defer func() { _ = resp.Body.Close() }()
		body, err := io.ReadAll(resp.Body)
		must(t, err)
		fmt.Fprintf(&all, "GET %s: %d\n%s\n", path, resp.StatusCode, body)
		return body
	}
	token2 := ""
	for {
		page := get(voicesim.RouteCollection + "?PageSize=50" + token2)
		var p struct {
			Meta struct {
				NextToken *string `json:"next_token"`
			} `json:"meta"`
		}
		must(t, json.Unmarshal(page, &p))
		if p.Meta.NextToken == nil || *p.Meta.NextToken == "" {
			break
		}
		token2 = "&PageToken=" + *p.Meta.NextToken
	}
	get(voicesim.RouteDefault)
	return all.Bytes()
}

func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	must(t, err)
	files := map[string][]byte{}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		must(t, err)
		files[e.Name()] = data
	}
	return files
}

func equalFiles(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for name, data := range a {
		if !bytes.Equal(data, b[name]) {
			return false
		}
	}
	return true
}

func ready(conditions []metav1.Condition, generation int64) bool {
	c := meta.FindStatusCondition(conditions, voicev1alpha1.ConditionReady)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == generation
}

func lineDiff(a, b []byte) string {
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, al[i], bl[i])
		}
	}
	return fmt.Sprintf("%d lines, then %d", len(al), len(bl))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
