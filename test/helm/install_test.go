package helm_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v4/pkg/action"
	helmkube "helm.sh/helm/v4/pkg/kube"
	rcommon "helm.sh/helm/v4/pkg/release/common"
	release "helm.sh/helm/v4/pkg/release/v1"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
	"github.com/twilio-operator/voice-operator/internal/localenv"
	"github.com/twilio-operator/voice-operator/internal/localenv/kube"
	"github.com/twilio-operator/voice-operator/internal/voicesim"
)

// TestInstallAndUninstall installs the chart into a real apiserver with the
// Helm SDK, as `helm install` does (no dry run): the CRDs of crds/ first,
// then every object, each of which the apiserver must accept. It checks the
// manager's ServiceAccount has the rights it should and no more, and runs
// the operator binary as that ServiceAccount with the Deployment's own
// arguments until it has made a ClientConfiguration Ready (against the
// Voice API simulator). Then it uninstalls the release and checks that
// every object of the release is gone while the CRDs, and the objects of
// their kinds, stay.
//
// Both variants share one control plane, one after the other, as a cluster
// would see a reinstall: the second install finds the CRDs the first one
// kept. The control plane runs no kubelet, so the operator runs beside it
// as a process rather than in the Deployment's Pod.
func TestInstallAndUninstall(t *testing.T) {
	cp := startControlPlane(t)

	t.Run("all namespaces", func(t *testing.T) {
		const ns = "voice-operator-system"
		rel := cp.install(t, ns, nil)
		cp.checkInstalled(t, rel)

		sa := serviceAccountUser(ns, "voice-operator")
		cp.checkAllowed(t, sa, true,
			access{verb: "list", resource: "secrets"}, // cluster-wide
			access{verb: "watch", resource: "secrets", namespace: "any-team"},
			access{verb: "update", group: voicev1alpha1.GroupVersion.Group, resource: "clientconfigurations", subresource: "finalizers", namespace: "any-team"},
			access{verb: "patch", group: voicev1alpha1.GroupVersion.Group, resource: "accountdefaults", subresource: "status", namespace: "any-team"},
			access{verb: "create", group: "events.k8s.io", resource: "events", namespace: "any-team"},
			access{verb: "update", group: "coordination.k8s.io", resource: "leases", namespace: ns},
			access{verb: "create", group: "authentication.k8s.io", resource: "tokenreviews"},
			access{verb: "create", group: "authorization.k8s.io", resource: "subjectaccessreviews"},
		)
		cp.checkAllowed(t, sa, false,
			access{verb: "update", resource: "secrets", namespace: "any-team"},
			access{verb: "create", group: voicev1alpha1.GroupVersion.Group, resource: "clientconfigurations", namespace: "any-team"},
			access{verb: "update", group: "coordination.k8s.io", resource: "leases", namespace: "any-team"},
		)

		op := cp.startOperator(t, rel)
		kept := cp.createClientConfiguration(t, "any-team")
		cp.waitReady(t, op, kept)
		stopOperator(t, op)

		cp.uninstall(t, rel)
		cp.checkUninstalled(t, rel, kept)
	})

	t.Run("watchNamespaces", func(t *testing.T) {
		const ns = "voice-operator-teams"
		// The watched namespaces exist before the install, as the chart's
		// README asks; the ServiceMonitor needs the Prometheus Operator's CRD.
		cp.createNamespace(t, "a")
		cp.createNamespace(t, "b")
		cp.createServiceMonitorCRD(t)
		rel := cp.install(t, ns, valuesFile(t, "custom-values.yaml"))
		cp.checkInstalled(t, rel)

		sa := serviceAccountUser(ns, "voice-manager")
		var inWatched []access
		for _, watched := range []string{"a", "b"} {
			inWatched = append(inWatched,
				access{verb: "list", resource: "secrets", namespace: watched},
				access{verb: "watch", group: voicev1alpha1.GroupVersion.Group, resource: "clientconfigurations", namespace: watched},
				access{verb: "update", group: voicev1alpha1.GroupVersion.Group, resource: "clientconfigurations", subresource: "finalizers", namespace: watched},
				access{verb: "create", group: "events.k8s.io", resource: "events", namespace: watched},
			)
		}
		cp.checkAllowed(t, sa, true, append(inWatched,
			access{verb: "update", group: "coordination.k8s.io", resource: "leases", namespace: ns})...)
		cp.checkAllowed(t, sa, false,
			access{verb: "list", resource: "secrets"}, // cluster-wide
			access{verb: "get", resource: "secrets", namespace: "c"},
			access{verb: "get", resource: "secrets", namespace: ns},
			access{verb: "list", group: voicev1alpha1.GroupVersion.Group, resource: "clientconfigurations", namespace: "c"},
			// Plain-HTTP metrics: nothing to review scrapes with.
			access{verb: "create", group: "authentication.k8s.io", resource: "tokenreviews"},
		)

		op := cp.startOperator(t, rel)
		kept := cp.createClientConfiguration(t, "a")
		ignored := cp.createClientConfiguration(t, "c")
		cp.waitReady(t, op, kept)
		stopOperator(t, op)
		cp.checkUntouched(t, ignored)

		cp.uninstall(t, rel)
		cp.checkUninstalled(t, rel, kept)
	})
}

// controlPlane is etcd and kube-apiserver of the envtest toolchain, without
// any CRD (the chart brings its own), with the Voice API simulator and the
// operator binary beside them.
type controlPlane struct {
	ctx context.Context
	dir string
	// kubeconfig is the file Helm reads, as it reads $KUBECONFIG; it acts as
	// a cluster admin, and so does client.
	kubeconfig string
	client     client.Client
	// cacheDir keeps the discovery cache Helm writes out of $HOME.
	cacheDir string
	// operator is the manager binary built from the checkout.
	operator string
	// sim answers the operator's Voice API requests at simURL.
	sim    *voicesim.Server
	simURL string
}

// startControlPlane builds the operator, starts the control plane from
// KUBEBUILDER_ASSETS (or bin/k8s of the checkout, where `make envtest`
// builds it) and the simulator, and stops them when the test ends.
//
// It uses envtest directly rather than internal/localenv/kube's Env, which
// installs config/crd and config/rbac first: here the chart must install
// its own CRDs and RBAC, and nothing else may grant what they lack.
func startControlPlane(t *testing.T) *controlPlane {
	t.Helper()
	root, err := localenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	assets := localenv.AssetsDir(root)
	if err := localenv.CheckAssets(assets); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	operator := filepath.Join(dir, "manager")
	if err := localenv.GoBuild(t.Context(), root, operator, "."); err != nil {
		t.Fatal(err)
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting the control plane: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Logf("stopping the control plane: %v", err)
		}
	})

	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	user, err := env.ControlPlane.AddUser(envtest.User{Name: "helm-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, data, 0o600); err != nil {
		t.Fatal(err)
	}

	sim := voicesim.New(voicesim.Options{})
	server := httptest.NewServer(sim)
	t.Cleanup(server.Close)
	return &controlPlane{
		ctx: t.Context(), dir: dir, kubeconfig: kubeconfig, client: c, cacheDir: filepath.Join(dir, "cache"),
		operator: operator, sim: sim, simURL: server.URL,
	}
}

// scheme knows the kinds the test reads and writes as Go types: the
// built-in ones, CRDs, and the operator's own.
var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme, voicev1alpha1.AddToScheme} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}()

// actionConfig returns Helm's action configuration for namespace ns, as
// the helm command builds it from --kubeconfig and --namespace, with
// releases stored in Secrets (Helm's default). Helm's log goes to the
// test's log, warnings and errors only.
func (cp *controlPlane) actionConfig(t *testing.T, ns string) *action.Configuration {
	t.Helper()
	flags := genericclioptions.NewConfigFlags(true)
	flags.KubeConfig = &cp.kubeconfig
	flags.Namespace = &ns
	flags.CacheDir = &cp.cacheDir
	cfg := action.NewConfiguration(action.ConfigurationSetLogger(
		slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err := cfg.Init(flags, ns, "secret"); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// install installs the chart as release voice-operator in namespace ns,
// creating the namespace (helm install --create-namespace), without waiting
// for the Deployment to become ready: no kubelet runs its Pods here.
func (cp *controlPlane) install(t *testing.T, ns string, vals map[string]any) *release.Release {
	t.Helper()
	install := action.NewInstall(cp.actionConfig(t, ns))
	install.ReleaseName = "voice-operator"
	install.Namespace = ns
	install.CreateNamespace = true
	install.WaitStrategy = helmkube.HookOnlyStrategy
	install.Timeout = 2 * time.Minute
	r, err := install.RunWithContext(cp.ctx, loadChart(t), vals)
	if err != nil {
		t.Fatalf("helm install: %v", err)
	}
	rel := r.(*release.Release)
	if rel.Info.Status != rcommon.StatusDeployed {
		t.Fatalf("the release is %s (%s), want deployed", rel.Info.Status, rel.Info.Description)
	}
	return rel
}

// uninstall uninstalls the release as `helm uninstall` does.
func (cp *controlPlane) uninstall(t *testing.T, rel *release.Release) {
	t.Helper()
	uninstall := action.NewUninstall(cp.actionConfig(t, rel.Namespace))
	uninstall.WaitStrategy = helmkube.HookOnlyStrategy
	uninstall.DeletionPropagation = "background"
	uninstall.Timeout = 2 * time.Minute
	if _, err := uninstall.Run(rel.Name); err != nil {
		t.Fatalf("helm uninstall: %v", err)
	}
}

// checkInstalled checks that the CRDs are established with their keep
// annotations, and that every object of the release's manifest exists as
// rendered: the apiserver accepted each one, dropping no field of the
// manager's Deployment.
func (cp *controlPlane) checkInstalled(t *testing.T, rel *release.Release) {
	t.Helper()
	cp.checkCRDsKept(t)

	objs, err := decodeObjects([]byte(rel.Manifest))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) == 0 {
		t.Fatal("the release has no objects")
	}
	t.Logf("checking the release's %d objects: %s", len(objs), rendered(objs))
	for _, obj := range objs {
		live := cp.get(t, obj)
		if live == nil {
			t.Errorf("%s %s/%s of the release is not in the apiserver", obj.GetKind(), obj.GetNamespace(), obj.GetName())
			continue
		}
		if live.GetLabels()["app.kubernetes.io/managed-by"] != "Helm" || live.GetAnnotations()["meta.helm.sh/release-name"] != rel.Name {
			t.Errorf("%s %s/%s is not marked as the release's: labels %v, annotations %v",
				obj.GetKind(), obj.GetNamespace(), obj.GetName(), live.GetLabels(), live.GetAnnotations())
		}
	}

	// The Deployment came through whole: the apiserver would drop a
	// misplaced field without a word (Helm validates against the schema,
	// but this is the proof).
	var want *appsv1.Deployment
	for _, obj := range objs {
		if obj.GetKind() == "Deployment" {
			want = typed[appsv1.Deployment](t, obj)
		}
	}
	live := &appsv1.Deployment{}
	if err := cp.client.Get(cp.ctx, client.ObjectKeyFromObject(want), live); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want.Spec.Template.Spec.Containers[0].Args, live.Spec.Template.Spec.Containers[0].Args); diff != "" {
		t.Errorf("the live Deployment's args differ from the rendered ones (-rendered +live):\n%s", diff)
	}
	if got, want := *live.Spec.Template.Spec.SecurityContext.RunAsNonRoot, *want.Spec.Template.Spec.SecurityContext.RunAsNonRoot; got != want {
		t.Errorf("the live Pod template's runAsNonRoot is %v, rendered %v", got, want)
	}
}

// checkUninstalled checks that every object of the release is gone, and
// so is the release's record, while the CRDs and the object kept stay.
func (cp *controlPlane) checkUninstalled(t *testing.T, rel *release.Release, kept *voicev1alpha1.ClientConfiguration) {
	t.Helper()
	objs, err := decodeObjects([]byte(rel.Manifest))
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range objs {
		if live := cp.get(t, obj); live != nil && live.GetDeletionTimestamp() == nil {
			t.Errorf("%s %s/%s is still there after helm uninstall", obj.GetKind(), obj.GetNamespace(), obj.GetName())
		}
	}
	secrets := &corev1.SecretList{}
	if err := cp.client.List(cp.ctx, secrets, client.InNamespace(rel.Namespace), client.MatchingLabels{"owner": "helm", "name": rel.Name}); err != nil {
		t.Fatal(err)
	}
	if len(secrets.Items) > 0 {
		t.Errorf("the release's record is still there: Secret %s", secrets.Items[0].Name)
	}

	cp.checkCRDsKept(t)
	if err := cp.client.Get(cp.ctx, client.ObjectKeyFromObject(kept), &voicev1alpha1.ClientConfiguration{}); err != nil {
		t.Errorf("ClientConfiguration %s/%s did not survive helm uninstall: %v", kept.Namespace, kept.Name, err)
	}
}

// checkCRDsKept checks that each CRD of the chart's crds/ is established and
// carries the annotations that keep it.
func (cp *controlPlane) checkCRDsKept(t *testing.T) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(chartDir, "crds", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs in the chart's crds/ (%v)", err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := decodeObjects(data)
		if err != nil || len(objs) != 1 {
			t.Fatalf("%s: %d objects, %v", file, len(objs), err)
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := cp.client.Get(cp.ctx, client.ObjectKey{Name: objs[0].GetName()}, crd); err != nil {
			t.Errorf("CRD %s: %v", objs[0].GetName(), err)
			continue
		}
		if !crdEstablished(crd) {
			t.Errorf("CRD %s is not established: %+v", crd.Name, crd.Status.Conditions)
		}
		if crd.DeletionTimestamp != nil {
			t.Errorf("CRD %s is being deleted", crd.Name)
		}
		if got := crd.Annotations[keepAnnotation]; got != "keep" {
			t.Errorf("CRD %s has %s: %q, want keep", crd.Name, keepAnnotation, got)
		}
	}
}

// access is one request the manager might make, for a SubjectAccessReview.
type access struct {
	verb, group, resource, subresource string
	// namespace is empty for a cluster-wide request.
	namespace string
}

func (a access) String() string {
	resource := a.resource
	if a.group != "" {
		resource += "." + a.group
	}
	if a.subresource != "" {
		resource += "/" + a.subresource
	}
	where := "cluster-wide"
	if a.namespace != "" {
		where = "in " + a.namespace
	}
	return fmt.Sprintf("%s %s %s", a.verb, resource, where)
}

// checkAllowed asks the apiserver's RBAC authorizer whether user may make
// each request, and fails the test for each answer other than allowed.
func (cp *controlPlane) checkAllowed(t *testing.T, user authenticationUser, allowed bool, requests ...access) {
	t.Helper()
	for _, a := range requests {
		review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:   user.name,
			Groups: user.groups,
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Verb: a.verb, Group: a.group, Resource: a.resource, Subresource: a.subresource, Namespace: a.namespace,
			},
		}}
		if err := cp.client.Create(cp.ctx, review); err != nil {
			t.Fatal(err)
		}
		if review.Status.Allowed != allowed {
			t.Errorf("%s may %s: allowed is %v, want %v (%s)", user.name, a, review.Status.Allowed, allowed, review.Status.Reason)
		}
	}
}

// authenticationUser is who the apiserver takes a ServiceAccount's token
// for.
type authenticationUser struct {
	name   string
	groups []string
}

func serviceAccountUser(ns, name string) authenticationUser {
	return authenticationUser{
		name:   "system:serviceaccount:" + ns + ":" + name,
		groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
	}
}

// createNamespace creates a namespace.
func (cp *controlPlane) createNamespace(t *testing.T, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := cp.client.Create(cp.ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// startOperator runs the operator binary as the release's ServiceAccount
// (an admin's kubeconfig impersonating it, so only the chart's roles
// authorize its requests), with the arguments of the release's Deployment.
// Only the two listen addresses are the harness's (free loopback ports for
// the metrics, no probes), and the Voice API is the simulator.
func (cp *controlPlane) startOperator(t *testing.T, rel *release.Release) *localenv.Operator {
	t.Helper()
	objs, err := decodeObjects([]byte(rel.Manifest))
	if err != nil {
		t.Fatal(err)
	}
	deploy := deployment(t, objs)
	pod := deploy.Spec.Template.Spec
	var args []string
	for _, arg := range managerContainer(t, deploy).Args {
		if !strings.HasPrefix(arg, "--metrics-bind-address=") && !strings.HasPrefix(arg, "--health-probe-bind-address=") {
			args = append(args, arg)
		}
	}

	admin, err := os.ReadFile(cp.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	asServiceAccount, err := kube.ImpersonatingKubeconfig(admin, serviceAccountUser(rel.Namespace, pod.ServiceAccountName).name)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(cp.dir, "kubeconfig-"+rel.Namespace)
	if err := os.WriteFile(kubeconfig, asServiceAccount, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Logf("starting the operator as %s with %q", pod.ServiceAccountName, args)
	op, err := localenv.StartOperator(cp.ctx, localenv.OperatorOptions{
		Binary: cp.operator, Kubeconfig: kubeconfig, VoiceAPIURL: cp.simURL,
		Args: args, Metrics: true, SecureMetrics: !slices.Contains(args, "--metrics-secure=false"), LogDir: cp.dir,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = op.Stop() })
	return op
}

// stopOperator stops the operator; it should exit cleanly on SIGTERM.
func stopOperator(t *testing.T, op *localenv.Operator) {
	t.Helper()
	if err := op.Stop(); err != nil {
		t.Errorf("the operator did not stop cleanly: %v; its log ends with:\n%s", err, op.LogTail(20))
	}
}

// createClientConfiguration creates, in namespace ns, a credentials Secret
// of a new simulator account and a ClientConfiguration that uses it.
func (cp *controlPlane) createClientConfiguration(t *testing.T, ns string) *voicev1alpha1.ClientConfiguration {
	t.Helper()
	cp.createNamespace(t, ns)
	account, token := "AC"+localenv.RandomHex(16), localenv.RandomHex(16)
	cp.sim.AddAccount(account, token)
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "twilio-credentials"},
		StringData: map[string]string{voicev1alpha1.SecretKeyAccountSID: account, voicev1alpha1.SecretKeyAuthToken: token},
	}
	if err := cp.client.Create(cp.ctx, secret); err != nil {
		t.Fatal(err)
	}
	obj := &voicev1alpha1.ClientConfiguration{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web-softphone"},
		Spec: voicev1alpha1.ClientConfigurationSpec{
			UniqueName:       "web-softphone",
			CallNotification: voicev1alpha1.CallNotification{URL: "https://example.com/voice/notify"},
			CredentialsRef:   voicev1alpha1.SecretReference{Name: secret.Name},
		},
	}
	if err := cp.client.Create(cp.ctx, obj); err != nil {
		t.Fatalf("creating a ClientConfiguration with the chart's CRD: %v", err)
	}
	return obj
}

// waitReady waits until the operator has made obj Ready, which takes every
// permission of the manager's role: the Secret read, the finalizer and the
// status written, the Event recorded.
func (cp *controlPlane) waitReady(t *testing.T, op *localenv.Operator, obj *voicev1alpha1.ClientConfiguration) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if err := cp.client.Get(cp.ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			t.Fatal(err)
		}
		ready := meta.FindStatusCondition(obj.Status.Conditions, voicev1alpha1.ConditionReady)
		if ready != nil && ready.Status == metav1.ConditionTrue && ready.ObservedGeneration == obj.Generation {
			return
		}
		if op.Exited() || time.Now().After(deadline) {
			t.Fatalf("ClientConfiguration %s/%s is not Ready (%+v); the operator's log ends with:\n%s", obj.Namespace, obj.Name, ready, op.LogTail(20))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkUntouched checks that no operator has handled obj: no finalizer, no
// status.
func (cp *controlPlane) checkUntouched(t *testing.T, obj *voicev1alpha1.ClientConfiguration) {
	t.Helper()
	if err := cp.client.Get(cp.ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
		t.Fatal(err)
	}
	if len(obj.Finalizers) > 0 || len(obj.Status.Conditions) > 0 {
		t.Errorf("ClientConfiguration %s/%s, outside the watched namespaces, was handled: finalizers %v, conditions %+v",
			obj.Namespace, obj.Name, obj.Finalizers, obj.Status.Conditions)
	}
}

// createServiceMonitorCRD creates a stand-in for the Prometheus Operator's
// ServiceMonitor CRD: its group, version and names, with a schema that
// accepts any spec. It is enough for the apiserver to store the chart's
// ServiceMonitor; the render tests check the ServiceMonitor's fields.
func (cp *controlPlane) createServiceMonitorCRD(t *testing.T) {
	t.Helper()
	preserve := true
	crd := &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "servicemonitors.monitoring.coreos.com"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "monitoring.coreos.com",
			Names: apiextensionsv1.CustomResourceDefinitionNames{
				Kind: "ServiceMonitor", ListKind: "ServiceMonitorList", Plural: "servicemonitors", Singular: "servicemonitor",
			},
			Scope: apiextensionsv1.NamespaceScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object", XPreserveUnknownFields: &preserve,
				}},
			}},
		},
	}
	if err := cp.client.Create(cp.ctx, crd); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !crdEstablished(crd) {
		if time.Now().After(deadline) {
			t.Fatalf("the ServiceMonitor CRD is not established after 30s: %+v", crd.Status.Conditions)
		}
		time.Sleep(100 * time.Millisecond)
		if err := cp.client.Get(cp.ctx, client.ObjectKeyFromObject(crd), crd); err != nil {
			t.Fatal(err)
		}
	}
}

// get returns the live object of obj's kind, namespace and name, or nil
// when there is none.
func (cp *controlPlane) get(t *testing.T, obj *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(schema.FromAPIVersionAndKind(obj.GetAPIVersion(), obj.GetKind()))
	err := cp.client.Get(cp.ctx, client.ObjectKey{Namespace: obj.GetNamespace(), Name: obj.GetName()}, live)
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		t.Fatalf("getting %s %s/%s: %v", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
	}
	return live
}

// crdEstablished reports whether the apiserver serves the CRD's kind.
func crdEstablished(crd *apiextensionsv1.CustomResourceDefinition) bool {
	return slices.ContainsFunc(crd.Status.Conditions, func(c apiextensionsv1.CustomResourceDefinitionCondition) bool {
		return c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue
	})
}

// testWriter writes each line to the test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
