package controllers

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"pgregory.net/rapid"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
	"github.com/twilio-operator/voice-operator/internal/voice"
	"github.com/twilio-operator/voice-operator/internal/voicesim"
)

// The model test: the reconcilers, in-process, against the simulator (in
// the shape VOICE_SIM_SHAPE names, the reference's by default), a fake
// apiserver read through the cache transform, and a fake clock. Actors
// take random steps (users apply, edit, copy and delete objects and move
// Secrets; the Console creates, deletes, re-creates, edits and renames
// configurations and moves the default; the API loses answers to POSTs,
// or commits them late; the operator reconciles, resyncs, and restarts with
// nothing in memory), and the invariants of docs/operations.md's ownership
// rules are checked after every step:
//
//	I1  the operator writes (PUT, DELETE) a configuration only for the object
//	    whose reconcile created it, or for an object with the adopt
//	    annotation; an ObserveOnly object's reconcile writes nothing.
//	I2  at most one Manage object holds a remote id.
//	I3  once settled, an object has at most one configuration the operator
//	    created for it, and none once it is gone under deletionPolicy Delete.
//	I4  a Ready=True Synced status is true when written; a Deleted Event is
//	    true when recorded.
//	I5  once faults stop, every object converges within a bounded number
//	    of resyncs, or is stalled for a reason that still holds.
//
// `make test` runs modelChecks sequences of about modelSteps steps with a
// fixed seed; `make soak` runs many more (RAPID_CHECKS, RAPID_SEED). A
// failure prints rapid's seed and the shrunk sequence of steps.

const (
	modelChecks = 300
	modelSteps  = 40
	// modelSeed makes `make test` deterministic; RAPID_SEED or -rapid.seed
	// choose another.
	modelSeed = 20261206
)

// Accounts of the model: A and B each with an auth token, and an API key of
// B, which a Secret naming A's SID can hold by mistake.
var (
	modelAccountA = "AC" + strings.Repeat("a", 32)
	modelAccountB = "AC" + strings.Repeat("b", 32)
	modelKeyB     = "SK" + strings.Repeat("b", 32)
)

const (
	modelTokenA   = "token-a"
	modelTokenB   = "token-b"
	modelSecretB  = "secret-b"
	modelResync   = 10 * time.Second
	modelSecret   = "creds"
	modelPageSize = 2
)

// Secret contents a user can put in a namespace's credentials Secret.
const (
	secretA         = "A"
	secretB         = "B"
	secretAWithKeyB = "A-with-key-of-B"
	secretMissing   = "missing"
)

var (
	modelNamespaces = []string{"a", "b"}
	modelNames      = []string{"x", "y"}
	modelUnique     = []string{"n1", "n2"}
	modelDescs      = []string{"", "d"}
	modelURLs       = []string{"https://example.com/one", "https://example.com/two"}
)

var idPattern = regexp.MustCompile(`voice_clientconfiguration_[0-9a-f]+`)

func TestModel(t *testing.T) {
	setRapidDefault("rapid.checks", "RAPID_CHECKS", strconv.Itoa(modelChecks))
	setRapidDefault("rapid.steps", "RAPID_STEPS", strconv.Itoa(modelSteps))
	setRapidDefault("rapid.seed", "RAPID_SEED", strconv.Itoa(modelSeed))
	setRapidDefault("rapid.nofailfile", "RAPID_NOFAILFILE", "true")
	shape, err := voicesim.Shape(os.Getenv("VOICE_SIM_SHAPE"))
	if err != nil {
		t.Fatal(err)
	}
	mode := ObserveMode(cmpOrString(os.Getenv("VOICE_OBSERVE"), string(ObserveList)))
	t.Logf("simulator shape %q, observe %s, seed %s, %s sequences", os.Getenv("VOICE_SIM_SHAPE"), mode,
		flag.Lookup("rapid.seed").Value, flag.Lookup("rapid.checks").Value)
	// A sequence is told by its steps; thousands of sequences' logs would
	// bury it.
	ctrl.SetLogger(logr.Discard())
	rapid.Check(t, func(rt *rapid.T) {
		w := newModelWorld(rt, shape, mode)
		rt.Repeat(w.actions())
		w.settle()
	})
}

// setRapidDefault sets one of rapid's flags unless the command line or its
// environment variable chose it.
func setRapidDefault(name, env, value string) {
	if os.Getenv(env) != "" {
		return
	}
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	if !set {
		_ = flag.Set(name, value)
	}
}

func cmpOrString(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// modelWorld is one sequence's world: the apiserver, the API, the clock,
// the operator, and the ground truth the invariants are checked against.
type modelWorld struct {
	t     *rapid.T
	ctx   context.Context
	shape voicesim.Options
	mode  ObserveMode
	clock *clocktesting.FakeClock
	sim   *voicesim.Server
	store client.Client // the apiserver
	wire  *modelWire
	rec   *modelRecorder
	op    *modelOperator
	uids  int

	// createdFor is, per remote id, the object whose reconcile POSTed it;
	// adoptedBy, the object that adopted it with the adopt annotation set.
	createdFor map[string]types.UID
	adoptedBy  map[string]map[types.UID]bool
	// ambiguous are the POSTs whose answer the operator did not get, with
	// what they sent; plausiblyFor marks a configuration the Console made
	// with exactly the content of such a POST, after it: no proof can tell
	// it from the POST's own (ownership.go), so the object may take it.
	ambiguous    []ambiguousPost
	plausiblyFor map[string]map[types.UID]bool
	// unanswered marks the configurations such POSTs made: one the Console
	// changes before the operator finds it can no longer be proven its own.
	unanswered map[string]bool
	// consoleMadeAt is when and with what content the Console made each
	// configuration.
	consoleMadeAt map[string]consoleMade
	// changedAt is when the Console last changed or deleted a configuration
	// (or the operator deleted it, through another object or credentials):
	// with ObserveList, a status may speak of a List up to two resync
	// periods old (by design: one List per account per period), so a
	// Synced that a change since then makes false is not a lie.
	changedAt map[string]time.Time
	// last is the last version of each object seen, to judge it once gone.
	last map[types.UID]*voicev1alpha1.ClientConfiguration
	// removed are the objects that are gone from the apiserver.
	removed map[types.UID]*voicev1alpha1.ClientConfiguration
	// secrets is what each namespace's Secret holds; remembered, the
	// Secret content each object was last reconciled with in this run of
	// the operator (what it may delete with once the Secret is gone).
	secrets    map[string]string
	remembered map[types.UID]string
	// denied is, per account, how the API refuses it (0: it does not).
	denied map[string]int
	// violations found by the wire during the current step.
	violations []string
}

func newModelWorld(t *rapid.T, shape voicesim.Options, mode ObserveMode) *modelWorld {
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := voicev1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	w := &modelWorld{
		t: t, ctx: context.Background(), shape: shape, mode: mode,
		clock:         clocktesting.NewFakeClock(time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)),
		sim:           voicesim.New(shape),
		createdFor:    map[string]types.UID{},
		adoptedBy:     map[string]map[types.UID]bool{},
		plausiblyFor:  map[string]map[types.UID]bool{},
		unanswered:    map[string]bool{},
		consoleMadeAt: map[string]consoleMade{},
		changedAt:     map[string]time.Time{},
		last:          map[types.UID]*voicev1alpha1.ClientConfiguration{},
		removed:       map[types.UID]*voicev1alpha1.ClientConfiguration{},
		secrets:       map[string]string{},
		remembered:    map[types.UID]string{},
		denied:        map[string]int{},
		rec:           &modelRecorder{logf: t.Logf},
	}
	w.store = fake.NewClientBuilder().WithScheme(scheme).
		WithStatusSubresource(&voicev1alpha1.ClientConfiguration{}, &voicev1alpha1.AccountDefault{}).
		WithIndex(&voicev1alpha1.ClientConfiguration{}, credentialsIndex, func(o client.Object) []string {
			return secretsOf(o.(*voicev1alpha1.ClientConfiguration))
		}).Build()
	w.sim.AddAccount(modelAccountA, modelTokenA)
	w.sim.AddAccount(modelAccountB, modelTokenB)
	w.sim.AddAPIKey(modelAccountB, modelKeyB, modelSecretB)
	w.wire = &modelWire{w: w, sim: w.sim}
	for _, ns := range modelNamespaces {
		w.putSecret(ns, secretA)
	}
	w.op = w.newOperator()
	return w
}

// modelOperator is one run of the operator: what a restart loses.
type modelOperator struct {
	cc *ClientConfigurationReconciler
}

func (w *modelWorld) newOperator() *modelOperator {
	factory := voice.NewFactory(voice.Options{
		BaseURL:        "http://voice.sim.invalid",
		HTTPClient:     &http.Client{Transport: w.wire},
		RequestTimeout: 5 * time.Second,
		MaxAttempts:    2,
		MaxRetryWait:   time.Millisecond,
		RateLimit:      rate.Inf,
		BackoffBase:    time.Microsecond,
		BackoffMax:     time.Microsecond,
		Version:        "model",
	})
	cc := &ClientConfigurationReconciler{
		Deps: Deps{
			Client:       cachedClient{w.store},
			APIReader:    w.store,
			Clients:      NewClientFactory(factory),
			Recorder:     w.rec,
			ResyncPeriod: modelResync,
			Clock:        w.clock,
		},
		Observe:  w.mode,
		PageSize: modelPageSize,
	}
	cc.setUp()
	cc.secrets = newSecretSource(w.store, nil)
	cc.holders = newHolderIndex()
	cc.holders.synced = func() bool { return true }
	cc.remote = newRemoteView(cc.holders, w.clock, cc.Observe, cc.ResyncPeriod, cc.PageSize)
	cc.claims = newClaims(cc.holders, w.store)
	return &modelOperator{cc: cc}
}

// cachedClient reads as the manager's cache does: through the cache's
// transform (CompactForCache). Writes go to the apiserver.
type cachedClient struct{ client.Client }

func (c cachedClient) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if err := c.Client.Get(ctx, key, obj, opts...); err != nil {
		return err
	}
	_, err := CompactForCache(obj)
	return err
}

func (c cachedClient) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	if err := c.Client.List(ctx, list, opts...); err != nil {
		return err
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return err
	}
	for _, item := range items {
		if _, err := CompactForCache(item); err != nil {
			return err
		}
	}
	return meta.SetList(list, items)
}

// modelRecorder keeps the Events of the current step.
type modelRecorder struct {
	logf   func(string, ...any)
	mu     sync.Mutex
	events []modelEvent
}

type modelEvent struct {
	uid          types.UID
	eventType    string
	reason, note string
}

func (r *modelRecorder) Eventf(regarding runtime.Object, _ runtime.Object, eventType, reason, _, note string, args ...any) {
	obj, _ := regarding.(client.Object)
	r.mu.Lock()
	defer r.mu.Unlock()
	var uid types.UID
	if obj != nil {
		uid = obj.GetUID()
	}
	if modelTrace && r.logf != nil {
		r.logf("  event %s %s: %s", uid, reason, fmt.Sprintf(note, args...))
	}
	r.events = append(r.events, modelEvent{uid: uid, eventType: eventType, reason: reason, note: fmt.Sprintf(note, args...)})
}

func (r *modelRecorder) take() []modelEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	events := r.events
	r.events = nil
	return events
}

// Faults the wire can put on the next POST of a configuration.
const (
	faultNone = iota
	// faultLostAnswer: the POST commits, its answer is lost (502).
	faultLostAnswer
	// faultNotCommitted: the POST never reaches the backend (504).
	faultNotCommitted
	// faultLate: the POST is answered 504 and commits later, when the
	// model says (a gateway timeout while the backend still works).
	faultLate
)

// modelWire is the operator's HTTP transport: it serves requests from the
// simulator in-process, records who created what, checks I1 on every
// write, and injects the faults the model arms.
type modelWire struct {
	w       *modelWorld
	sim     http.Handler
	current *voicev1alpha1.ClientConfiguration // the object being reconciled
	fault   int
	held    []heldPost
}

// ambiguousPost is a POST whose answer was lost, and what it sent.
type ambiguousPost struct {
	uid     types.UID
	content string
	user    string
}

// postContent is what a POST's body asks for, comparable with recordContent.
func postContent(body []byte) string {
	var in struct {
		UniqueName    string  `json:"unique_name"`
		Description   *string `json:"description"`
		Configuration struct {
			CallNotification struct {
				URL    string `json:"url"`
				Method string `json:"method"`
			} `json:"callnotification"`
		} `json:"configuration"`
	}
	_ = json.Unmarshal(body, &in)
	return fmt.Sprintf("%s|%s|%s|%s", in.UniqueName, derefString(in.Description), in.Configuration.CallNotification.URL, in.Configuration.CallNotification.Method)
}

// recordContent is a stored configuration's content, as postContent.
func recordContent(rec voicesim.Record) string {
	return fmt.Sprintf("%s|%s|%s|%s", rec.UniqueName, derefString(rec.Description), rec.CallNotificationURL, rec.CallNotificationMethod)
}

// consoleMade is a configuration the Console made.
type consoleMade struct {
	at      time.Time
	content string
}

// plausible marks configuration id as plausibly made by object uid.
func (w *modelWorld) plausible(id string, uid types.UID) {
	if w.plausiblyFor[id] == nil {
		w.plausiblyFor[id] = map[types.UID]bool{}
	}
	w.plausiblyFor[id][uid] = true
}

// heldPost is a POST that will commit late.
type heldPost struct {
	req  *http.Request
	body []byte
	uid  types.UID
}

func (m *modelWire) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		_ = req.Body.Close()
	}
	isCreate := req.Method == http.MethodPost && req.URL.Path == voicesim.RouteCollection
	if isCreate && m.fault != faultNone {
		fault := m.fault
		m.fault = faultNone
		user, _, _ := req.BasicAuth()
		post := ambiguousPost{uid: m.currentUID(), content: postContent(body), user: user}
		m.w.ambiguous = append(m.w.ambiguous, post)
		// A look-alike the Console made within the name check's window
		// before it is as plausibly the POST's as one made after.
		for id, made := range m.w.consoleMadeAt {
			if m.w.clock.Since(made.at) <= nameCheckMaxAge && made.content == post.content {
				m.w.plausible(id, post.uid)
			}
		}
		switch fault {
		case faultNotCommitted:
			return answer(req, http.StatusGatewayTimeout), nil
		case faultLate:
			m.held = append(m.held, heldPost{req: req.Clone(context.Background()), body: body, uid: m.currentUID()})
			return answer(req, http.StatusGatewayTimeout), nil
		case faultLostAnswer:
			m.markAmbiguous(m.serve(req, body, m.currentUID()))
			return answer(req, http.StatusBadGateway), nil
		}
	}
	if req.Method == http.MethodPut || req.Method == http.MethodDelete {
		m.checkWrite(req)
	}
	rec := m.serve(req, body, m.currentUID())
	return rec.Result(), nil
}

// modelTrace (MODEL_TRACE=1) logs every write the operator sends and every
// Event, under the step that made it.
var modelTrace = os.Getenv("MODEL_TRACE") != ""

func (m *modelWire) currentUID() types.UID {
	if m.current == nil {
		return ""
	}
	return m.current.UID
}

// serve hands a request to the simulator and records a configuration it
// created as created for uid.
func (m *modelWire) serve(req *http.Request, body []byte, uid types.UID) *httptest.ResponseRecorder {
	r := req.Clone(req.Context())
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.RemoteAddr = "192.0.2.1:1234" // never the admin surface
	rec := httptest.NewRecorder()
	m.sim.ServeHTTP(rec, r)
	if modelTrace && req.Method != http.MethodGet {
		m.w.t.Logf("  %s %s %s (for %s) → %d %s", req.Method, req.URL.Path, postContent(body), uid, rec.Code, idPattern.FindString(rec.Body.String()))
	}
	if req.Method == http.MethodDelete && rec.Code < 300 {
		// A List taken just before may still show it, by design.
		m.w.changedAt[strings.TrimPrefix(req.URL.Path, voicesim.RouteCollection+"/")] = m.w.clock.Now()
	}
	if req.Method == http.MethodPost && req.URL.Path == voicesim.RouteCollection && rec.Code < 300 {
		var out struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(rec.Body.Bytes(), &out) == nil && out.ID != "" {
			m.w.createdFor[out.ID] = uid
		}
	}
	return rec
}

func answer(req *http.Request, status int) *http.Response {
	rec := httptest.NewRecorder()
	rec.WriteHeader(status)
	resp := rec.Result()
	resp.Request = req
	return resp
}

// checkWrite is I1, for a PUT or DELETE of a configuration (the default's
// own route aside).
func (m *modelWire) checkWrite(req *http.Request) {
	id := strings.TrimPrefix(req.URL.Path, voicesim.RouteCollection+"/")
	if id == "Default" || !idPattern.MatchString(id) {
		return
	}
	obj := m.current
	switch {
	case obj == nil:
		m.w.violations = append(m.w.violations, fmt.Sprintf("I1: %s %s outside any reconcile", req.Method, id))
	case obj.Spec.ManagementPolicy == voicev1alpha1.ManagementPolicyObserveOnly:
		m.w.violations = append(m.w.violations, fmt.Sprintf("I1: ObserveOnly object %s sent %s %s", key(obj), req.Method, id))
	case m.w.createdFor[id] == obj.UID, m.w.adoptedBy[id][obj.UID], m.w.plausiblyFor[id][obj.UID], wantsAdoption(obj):
	default:
		m.w.violations = append(m.w.violations, fmt.Sprintf("I1: object %s (uid %s) sent %s %s, which it did not create (created for %q, plausibly for %v) and without the adopt annotation (marker %s)",
			key(obj), obj.UID, req.Method, id, m.w.createdFor[id], m.w.plausiblyFor[id], obj.Annotations[voicev1alpha1.AnnotationCreateIntent]))
	}
}

func key(obj client.Object) string { return obj.GetNamespace() + "/" + obj.GetName() }

// commitHeld lets the i-th held POST reach the backend.
func (m *modelWire) commitHeld(i int) {
	h := m.held[i]
	m.held = slices.Delete(m.held, i, i+1)
	m.markAmbiguous(m.serve(h.req, h.body, h.uid))
}

// markAmbiguous notes a configuration made by a POST whose answer the
// operator never saw.
func (m *modelWire) markAmbiguous(rec *httptest.ResponseRecorder) {
	if id := idPattern.FindString(rec.Body.String()); id != "" && rec.Code < 300 {
		m.w.unanswered[id] = true
	}
}
