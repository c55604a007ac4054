package chaos_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
	"github.com/twilio-operator/voice-operator/internal/localenv"
	"github.com/twilio-operator/voice-operator/internal/localenv/kube"
	"github.com/twilio-operator/voice-operator/internal/voicesim"
)

// previousRelease is the commit the operator last landed from before
// ownership had to be proved. Its create-intent markers name a unique name
// and prove nothing else.
const previousRelease = "d711d55"

// TestUpgradeTakesOverEveryState runs the operator built from
// previousRelease until its objects sit in every state it can leave them
// in, stops it, and starts the current one. Each object must be taken over
// with no remote write beyond what its state needs, and no duplicate:
//
//	ready      Ready                                   → Ready, no write
//	taken      AlreadyExists (a Console configuration) → AlreadyExists, untouched
//	inflight   old marker, no id, configuration made   → AlreadyExists: an old marker proves nothing; untouched
//	refused    old marker, no id, nothing made         → created once (the name is free)
//	paused     Ready, then paused                      → no call at all
//	deleting   Ready, deleted while no operator ran     → deleted once
//
// The earlier version needed lookups by unique name that only the extended
// shape of the simulator serves, so it runs against that; the current one
// then runs against the shape of this pass.
func TestUpgradeTakesOverEveryState(t *testing.T) {
	old := buildPrevious(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "upgrade-"}}
	must(t, env.Client.Create(ctx, ns))
	account := fmt.Sprintf("AC%032x", time.Now().UnixNano())
	must(t, env.CreateSecret(ctx, ns.Name, "creds", account, "token-upgrade"))
	shape := env.Sim.Options()
	env.Sim.SetOptions(voicesim.Extended())
	defer env.Sim.SetOptions(shape)

	// The earlier operator reaches the simulator through a listener that
	// can lose answers and fail lookups on cue, to strand creates midway.
	var strand stranding
	oldAPI := httptest.NewServer(strand.wrap(env.Sim))
	defer oldAPI.Close()
	o := env.OperatorOptions(append(operatorArgs, "--voice-api-url", oldAPI.URL, "--list-page-size", "50")...)
	o.Binary, o.PredatesSecureMetrics = old, true
	previous, err := localenv.StartOperator(ctx, o)
	must(t, err)
	t.Cleanup(func() { _ = previous.Stop() }) // stopped below; this is for a failure before

	theirs, err := env.Sim.CreateOutOfBand(account, voicesim.Record{UniqueName: "taken", CallNotificationURL: "https://console.example.com/"})
	must(t, err)
	objs := map[string]*voicev1alpha1.ClientConfiguration{}
	for _, name := range []string{"ready", "taken", "paused", "deleting"} {
		objs[name] = upgradeObject(ns.Name, name)
		must(t, env.Client.Create(ctx, objs[name]))
	}
	for name, reason := range map[string]string{"ready": voicev1alpha1.ReasonSynced, "taken": voicev1alpha1.ReasonAlreadyExists,
		"paused": voicev1alpha1.ReasonSynced, "deleting": voicev1alpha1.ReasonSynced} {
		waitReason(ctx, t, objs[name], reason)
	}
	must(t, env.Client.Patch(ctx, objs["paused"], client.RawPatch("application/merge-patch+json",
		[]byte(`{"metadata":{"annotations":{"`+voicev1alpha1.AnnotationPaused+`":"true"}}}`))))

	// Creates stranded after their marker was written: one whose POST made
	// the configuration and lost the answer, one whose POST made nothing;
	// lookups fail from then on, so the old operator cannot settle them.
	strand.on()
	for _, name := range []string{"inflight", "refused"} {
		objs[name] = upgradeObject(ns.Name, name)
		must(t, env.Client.Create(ctx, objs[name]))
	}
	kube.WaitFor(ctx, t, "the stranded creates", func() bool {
		for _, name := range []string{"inflight", "refused"} {
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(objs[name]), objs[name]); err != nil ||
				objs[name].Annotations[voicev1alpha1.AnnotationCreateIntent] == "" || objs[name].Status.ID != "" {
				return false
			}
		}
		return strand.posts("inflight") > 0 && strand.posts("refused") > 0
	})
	must(t, previous.Stop())
	must(t, env.Client.Delete(ctx, objs["deleting"]))

	before := map[string][]voicesim.Record{}
	for _, r := range env.Sim.Configurations(account) {
		before[r.UniqueName] = append(before[r.UniqueName], r)
	}
	if len(before["inflight"]) != 1 || len(before["refused"]) != 0 {
		t.Fatalf("the stranded states were not reached: %+v", before)
	}

	// The current operator, in this pass's shape.
	env.Sim.SetOptions(shape)
	calls := &writeLog{}
	newAPI := httptest.NewServer(calls.wrap(env.Sim))
	defer newAPI.Close()
	_, err = startOperator(ctx, t, "--voice-api-url", newAPI.URL, "--resync-period", "2s")
	must(t, err)

	for name, reason := range map[string]string{"ready": voicev1alpha1.ReasonSynced, "taken": voicev1alpha1.ReasonAlreadyExists,
		"inflight": voicev1alpha1.ReasonAlreadyExists, "refused": voicev1alpha1.ReasonSynced} {
		waitReason(ctx, t, objs[name], reason)
	}
	kube.WaitFor(ctx, t, "the deleting object to go", func() bool {
		return env.Client.Get(ctx, client.ObjectKeyFromObject(objs["deleting"]), objs["deleting"]) != nil
	})
	// Nothing more may happen over three resyncs.
	settled := len(calls.spans())
	quiet := time.Now().Add(6 * time.Second)
	kube.WaitFor(ctx, t, "three quiet resyncs", func() bool {
		if n := len(calls.spans()); n != settled {
			t.Fatalf("the current operator kept writing after every object settled: %d writes, then %d", settled, n)
		}
		return time.Now().After(quiet)
	})
	after := map[string][]voicesim.Record{}
	for _, r := range env.Sim.Configurations(account) {
		after[r.UniqueName] = append(after[r.UniqueName], r)
	}

	var writes []string
	for _, w := range calls.spans() {
		writes = append(writes, w.what)
	}
	t.Logf("remote writes by the current operator: %v", writes)
	posts, deletes, puts := 0, 0, 0
	for _, w := range writes {
		switch {
		case strings.HasPrefix(w, "POST "):
			posts++
		case strings.HasPrefix(w, "DELETE "):
			deletes++
		case strings.HasPrefix(w, "PUT "):
			puts++
		}
	}
	if posts != 1 || deletes != 1 || puts != 0 {
		t.Errorf("writes: %d POST (want 1: refused), %d DELETE (want 1: deleting), %d PUT (want 0)", posts, deletes, puts)
	}
	for _, name := range []string{"ready", "taken", "inflight", "paused"} {
		if a, b := jsonOf(after[name]), jsonOf(before[name]); a != b {
			t.Errorf("%s changed remotely:\nbefore %+v\nafter  %+v", name, before[name], after[name])
		}
	}
	if len(after["refused"]) != 1 || len(after["deleting"]) != 0 {
		t.Errorf("refused: %d configurations (want 1), deleting: %d (want 0)", len(after["refused"]), len(after["deleting"]))
	}
	if after["taken"][0].ID != theirs {
		t.Errorf("the Console's configuration was replaced")
	}
	must(t, env.Client.Get(ctx, client.ObjectKeyFromObject(objs["paused"]), objs["paused"]))
	if objs["paused"].Status.ID != before["paused"][0].ID {
		t.Errorf("the paused object's status changed: %+v", objs["paused"].Status)
	}
}

// buildPrevious builds the operator of previousRelease from this checkout's
// history, once per run.
func buildPrevious(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	must(t, err)
	if err := exec.Command("git", "-C", root, "cat-file", "-e", previousRelease+"^{commit}").Run(); err != nil {
		t.Skipf("commit %s is not in this clone's history (a shallow clone?): %v", previousRelease, err)
	}
	dir := t.TempDir()
	archive := exec.Command("git", "-C", root, "archive", previousRelease)
	untar := exec.Command("tar", "-x", "-C", dir)
	pipe, err := archive.StdoutPipe()
	must(t, err)
	untar.Stdin = pipe
	must(t, untar.Start())
	must(t, archive.Run())
	must(t, untar.Wait())
	binary := filepath.Join(dir, "manager")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOFLAGS=-mod=readonly")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", previousRelease, err, out)
	}
	return binary
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func upgradeObject(ns, name string) *voicev1alpha1.ClientConfiguration {
	return &voicev1alpha1.ClientConfiguration{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: voicev1alpha1.ClientConfigurationSpec{
			UniqueName:       name,
			CallNotification: voicev1alpha1.CallNotification{URL: "https://example.com/" + name, Method: voicev1alpha1.HTTPMethodPOST},
			CredentialsRef:   voicev1alpha1.SecretReference{Name: "creds"},
		},
	}
}

// stranding, once on, lets a POST of "inflight" through and drops its
// answer, answers a POST of "refused" 503 without passing it on, and
// answers every read 503.
type stranding struct {
	mu     sync.Mutex
	active bool
	seen   map[string]int
}

func (s *stranding) on() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.active, s.seen = true, map[string]int{}
}

func (s *stranding) posts(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[name]
}

func (s *stranding) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		active := s.active
		s.mu.Unlock()
		if !active {
			next.ServeHTTP(w, r)
			return
		}
		if r.Method == http.MethodGet {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if r.Method == http.MethodPost {
			name := postedName(r)
			s.mu.Lock()
			s.seen[name]++
			first := s.seen[name] == 1
			s.mu.Unlock()
			switch {
			case name == "inflight" && first:
				next.ServeHTTP(httptest.NewRecorder(), r) // made, answer lost
				if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
					_ = conn.Close()
				}
				return
			case name == "inflight", name == "refused":
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func waitReason(ctx context.Context, t *testing.T, obj *voicev1alpha1.ClientConfiguration, reason string) {
	t.Helper()
	kube.WaitFor(ctx, t, obj.Name+" to reach "+reason, func() bool {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return false
		}
		c := meta.FindStatusCondition(obj.Status.Conditions, voicev1alpha1.ConditionReady)
		return c != nil && c.Reason == reason && c.ObservedGeneration == obj.Generation
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
