package helm_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// The render tests render the chart as `helm template` does and check what
// a user gets. With no values (helm install voice-operator
// ./charts/voice-operator): the manager with leader election and secure
// metrics on 8443, the image of the chart's appVersion, config/manager's
// security contexts, a cluster-wide manager role, and nothing optional.
// With testdata/custom-values.yaml, which sets every value away from its
// default: two watched namespaces with a Role in each and no cluster-wide
// access to Secrets, a digest-pinned image, two replicas, plain-HTTP
// metrics on 8080 behind a NetworkPolicy, a ServiceMonitor, the extra flags
// last.

// TestRenderDefaultManager checks the manager's flags, replicas and image
// with no values.
func TestRenderDefaultManager(t *testing.T) {
	r := render(t, nil)
	args := r.args(t)
	checkArgs(t, args,
		"--leader-elect",
		"--leader-election-namespace="+namespace,
		"--health-probe-bind-address=:8081",
		"--metrics-bind-address=:8443",
		"--zap-log-level=info",
		"--resync-period=10m",
		"--observe=list",
		"--max-concurrent-reconciles=8",
		"--voice-api-qps=10",
		"--voice-api-burst=10",
	)
	for _, unwanted := range []string{"--metrics-secure", "--metrics-cert-dir", "--watch-namespaces"} {
		if arg := flagArg(args, unwanted); arg != "" {
			t.Errorf("the manager's args have %s; by default the binary's own default applies", arg)
		}
	}

	deploy := deployment(t, r)
	if got := *deploy.Spec.Replicas; got != 1 {
		t.Errorf("replicas: %d, want 1", got)
	}
	appVersion := loadChart(t).Metadata.AppVersion
	if image, want := managerContainer(t, deploy).Image, "ghcr.io/twilio-operator/voice-operator:"+appVersion; image != want {
		t.Errorf("image %q, want %q (the tag defaults to the chart's appVersion)", image, want)
	}
}

// TestRenderDefaultPodIsConfigManagers checks the restricted Pod Security
// Standard, and that the security contexts, resources, probes, environment,
// ports and grace period are those of config/manager/manager.yaml.
func TestRenderDefaultPodIsConfigManagers(t *testing.T) {
	deploy := deployment(t, render(t, nil))
	manager := managerContainer(t, deploy)
	pod := deploy.Spec.Template.Spec
	if sc := pod.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Errorf("the Pod's securityContext %+v does not set runAsNonRoot", sc)
	}
	if sc := manager.SecurityContext; sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("the manager's securityContext %+v allows privilege escalation or a writable root", sc)
	}

	kustomized := configManager(t)
	kustomizedManager := managerContainer(t, kustomized)
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"the Pod's securityContext", pod.SecurityContext, kustomized.Spec.Template.Spec.SecurityContext},
		{"the manager's securityContext", manager.SecurityContext, kustomizedManager.SecurityContext},
		{"the manager's resources", manager.Resources, kustomizedManager.Resources},
		{"the liveness probe", manager.LivenessProbe, kustomizedManager.LivenessProbe},
		{"the readiness probe", manager.ReadinessProbe, kustomizedManager.ReadinessProbe},
		{"the environment", manager.Env, kustomizedManager.Env},
		{"the ports", manager.Ports, kustomizedManager.Ports},
		{"the grace period", pod.TerminationGracePeriodSeconds, kustomized.Spec.Template.Spec.TerminationGracePeriodSeconds},
	} {
		if diff := cmp.Diff(c.want, c.got); diff != "" {
			t.Errorf("%s differs from config/manager/manager.yaml (-config +chart):\n%s", c.what, diff)
		}
	}
}

// TestRenderDefaultRBAC checks the default roles: the manager's as one
// ClusterRole bound to the chart's ServiceAccount, the leader-election Role,
// and the tenants' roles aggregated into admin, edit and view.
func TestRenderDefaultRBAC(t *testing.T) {
	r := render(t, nil)
	r.one(t, "ClusterRole", "", "voice-operator-manager")
	binding := typed[rbacv1.ClusterRoleBinding](t, r.one(t, "ClusterRoleBinding", "", "voice-operator-manager"))
	wantSubjects := []rbacv1.Subject{{Kind: "ServiceAccount", Name: "voice-operator", Namespace: namespace}}
	if diff := cmp.Diff(wantSubjects, binding.Subjects); diff != "" {
		t.Errorf("the manager's ClusterRoleBinding binds (-want +got):\n%s", diff)
	}
	if binding.RoleRef.Kind != "ClusterRole" || binding.RoleRef.Name != "voice-operator-manager" {
		t.Errorf("the manager's ClusterRoleBinding binds %+v", binding.RoleRef)
	}
	if sa, pod := r.one(t, "ServiceAccount", namespace, "voice-operator"), deployment(t, r).Spec.Template.Spec; sa.GetName() != pod.ServiceAccountName {
		t.Errorf("the Pod runs as %q, the chart's ServiceAccount is %q", pod.ServiceAccountName, sa.GetName())
	}
	if roles := r.ofKind("Role"); len(roles) != 1 || roles[0].GetName() != "voice-operator-leader-election" {
		t.Errorf("Roles %s, want only the leader-election one", rendered(roles))
	}
	for name, labels := range map[string][]string{
		"voice-operator-editor": {"rbac.authorization.k8s.io/aggregate-to-admin", "rbac.authorization.k8s.io/aggregate-to-edit"},
		"voice-operator-viewer": {"rbac.authorization.k8s.io/aggregate-to-view"},
	} {
		role := r.one(t, "ClusterRole", "", name)
		for _, label := range labels {
			if role.GetLabels()[label] != "true" {
				t.Errorf("ClusterRole %s lacks the label %s: \"true\"", name, label)
			}
		}
	}
}

// TestRenderDefaultMetrics checks the default metrics: HTTPS on port https
// (8443), with the roles that authenticate and authorize scrapes, and
// neither a ServiceMonitor nor a NetworkPolicy unless asked for.
func TestRenderDefaultMetrics(t *testing.T) {
	r := render(t, nil)
	svc := typed[corev1.Service](t, r.one(t, "Service", namespace, "voice-operator-metrics"))
	wantPorts := []corev1.ServicePort{{Name: "https", Port: 8443, TargetPort: intstr.FromString("metrics"), Protocol: corev1.ProtocolTCP}}
	if diff := cmp.Diff(wantPorts, svc.Spec.Ports); diff != "" {
		t.Errorf("the metrics Service's ports (-want +got):\n%s", diff)
	}
	r.one(t, "ClusterRole", "", "voice-operator-metrics-auth")
	r.one(t, "ClusterRoleBinding", "", "voice-operator-metrics-auth")
	r.one(t, "ClusterRole", "", "voice-operator-metrics-reader")
	for _, kind := range []string{"NetworkPolicy", "ServiceMonitor"} {
		if objs := r.ofKind(kind); len(objs) > 0 {
			t.Errorf("rendered %s by default; it is opt-in", rendered(objs))
		}
	}
	for _, obj := range r {
		if ns := obj.GetNamespace(); ns != "" && ns != namespace {
			t.Errorf("%s %s is in namespace %q, not the release's", obj.GetKind(), obj.GetName(), ns)
		}
	}
}

// TestRenderCustomManager checks that the manager's flags follow the values,
// with the extraArgs last so that they can override the chart's own (a flag
// given twice takes its last value).
func TestRenderCustomManager(t *testing.T) {
	args := render(t, valuesFile(t, "custom-values.yaml")).args(t)
	checkArgs(t, args,
		"--leader-elect",
		"--watch-namespaces=a,b",
		"--metrics-bind-address=:8080",
		"--metrics-secure=false",
		"--zap-log-level=debug",
		"--resync-period=5m",
		"--observe=get",
		"--max-concurrent-reconciles=8",
		"--voice-api-qps=2.5",
		"--voice-api-burst=5",
	)
	if tail := args[len(args)-2:]; !slices.Equal(tail, []string{"--list-page-size=50", "--voice-api-timeout=5s"}) {
		t.Errorf("the manager's args end with %q, want the extraArgs", tail)
	}
}

// TestRenderCustomPod checks the Deployment's values: the digest-pinned
// image, replicas, pull secrets, ServiceAccount, environment, resources and
// scheduling.
func TestRenderCustomPod(t *testing.T) {
	r := render(t, valuesFile(t, "custom-values.yaml"))
	deploy := deployment(t, r)
	manager := managerContainer(t, deploy)
	pod := deploy.Spec.Template.Spec
	if got := *deploy.Spec.Replicas; got != 2 {
		t.Errorf("replicas: %d, want 2", got)
	}
	if want := "registry.example.com/mirror/voice-operator@sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945"; manager.Image != want {
		t.Errorf("image %q, want %q (the digest wins over the tag)", manager.Image, want)
	}
	if manager.ImagePullPolicy != corev1.PullAlways {
		t.Errorf("imagePullPolicy %q, want Always", manager.ImagePullPolicy)
	}
	if diff := cmp.Diff([]corev1.LocalObjectReference{{Name: "regcred"}}, pod.ImagePullSecrets); diff != "" {
		t.Errorf("imagePullSecrets (-want +got):\n%s", diff)
	}
	if pod.ServiceAccountName != "voice-manager" {
		t.Errorf("the Pod runs as %q, want voice-manager", pod.ServiceAccountName)
	}
	if got := r.one(t, "ServiceAccount", namespace, "voice-manager").GetAnnotations()["example.com/role"]; got != "voice-operator" {
		t.Errorf("the ServiceAccount's annotation example.com/role is %q", got)
	}
	if env := envNames(manager.Env); !slices.Equal(env, []string{"GOMEMLIMIT", "GOGC"}) {
		t.Errorf("the manager's environment has %q, want GOMEMLIMIT and then the extraEnv GOGC", env)
	}
	if got := manager.Resources.Limits.Memory().String(); got != "256Mi" {
		t.Errorf("memory limit %s, want 256Mi", got)
	}
	want := corev1.PodSpec{
		NodeSelector:      map[string]string{"kubernetes.io/os": "linux"},
		Tolerations:       []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "operators", Effect: corev1.TaintEffectNoSchedule}},
		PriorityClassName: "operators",
	}
	got := corev1.PodSpec{NodeSelector: pod.NodeSelector, Tolerations: pod.Tolerations, PriorityClassName: pod.PriorityClassName}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the Pod's scheduling (-want +got):\n%s", diff)
	}
	if pod.Affinity == nil || pod.Affinity.PodAntiAffinity == nil {
		t.Errorf("affinity %+v lacks the podAntiAffinity", pod.Affinity)
	}
	if got := deploy.Spec.Template.Labels["team"]; got != "voice" {
		t.Errorf("the Pod's labels %v lack team: voice", deploy.Spec.Template.Labels)
	}
	if got := deploy.Spec.Template.Annotations["example.com/scraped"]; got != "false" {
		t.Errorf("the Pod's annotations %v lack example.com/scraped", deploy.Spec.Template.Annotations)
	}
}

// TestRenderCustomRBAC checks the roles with watchNamespaces: the
// manager's rules as a Role in each watched namespace, bound to the chart's
// ServiceAccount, and nothing cluster-wide that reaches a Secret; the
// tenants' roles are there to be bound, without aggregation labels.
func TestRenderCustomRBAC(t *testing.T) {
	r := render(t, valuesFile(t, "custom-values.yaml"))
	for _, ns := range []string{"a", "b"} {
		r.one(t, "Role", ns, "voice-operator-manager")
		binding := typed[rbacv1.RoleBinding](t, r.one(t, "RoleBinding", ns, "voice-operator-manager"))
		want := []rbacv1.Subject{{Kind: "ServiceAccount", Name: "voice-manager", Namespace: namespace}}
		if diff := cmp.Diff(want, binding.Subjects); diff != "" {
			t.Errorf("the RoleBinding in %s binds (-want +got):\n%s", ns, diff)
		}
	}
	for _, obj := range r.ofKind("ClusterRole") {
		for _, rule := range typed[rbacv1.ClusterRole](t, obj).Rules {
			if slices.Contains(rule.Resources, "secrets") || slices.Contains(rule.Resources, "*") {
				t.Errorf("ClusterRole %s grants %v on %v: with watchNamespaces no cluster-wide role may reach Secrets", obj.GetName(), rule.Verbs, rule.Resources)
			}
		}
	}
	for _, obj := range r.ofKind("ClusterRoleBinding") {
		t.Errorf("ClusterRoleBinding %s rendered; with watchNamespaces and plain-HTTP metrics there is none", obj.GetName())
	}
	for _, name := range []string{"voice-operator-editor", "voice-operator-viewer"} {
		for label := range r.one(t, "ClusterRole", "", name).GetLabels() {
			if strings.HasPrefix(label, "rbac.authorization.k8s.io/aggregate-to-") {
				t.Errorf("ClusterRole %s has the label %s with rbac.aggregateToDefaultRoles false", name, label)
			}
		}
	}
}

// TestRenderCustomMetrics checks plain-HTTP metrics on 8080: the Service's
// port http, no roles for authenticating scrapes, a ServiceMonitor that
// scrapes without a token, and a NetworkPolicy that admits the port from
// the given namespaces only (the user's selector replaces the default).
func TestRenderCustomMetrics(t *testing.T) {
	r := render(t, valuesFile(t, "custom-values.yaml"))
	svc := typed[corev1.Service](t, r.one(t, "Service", namespace, "voice-operator-metrics"))
	wantPorts := []corev1.ServicePort{{Name: "http", Port: 8080, TargetPort: intstr.FromString("metrics"), Protocol: corev1.ProtocolTCP}}
	if diff := cmp.Diff(wantPorts, svc.Spec.Ports); diff != "" {
		t.Errorf("the metrics Service's ports (-want +got):\n%s", diff)
	}
	for _, obj := range r.ofKind("ClusterRole") {
		if strings.Contains(obj.GetName(), "metrics") {
			t.Errorf("ClusterRole %s rendered with metrics.secure false", obj.GetName())
		}
	}

	monitor := r.one(t, "ServiceMonitor", namespace, "voice-operator")
	wantEndpoint := map[string]any{"path": "/metrics", "port": "http", "scheme": "http", "interval": "30s"}
	if diff := cmp.Diff(wantEndpoint, serviceMonitorEndpoint(t, monitor)); diff != "" {
		t.Errorf("the ServiceMonitor's endpoint (-want +got):\n%s", diff)
	}
	if got := monitor.GetLabels()["release"]; got != "prometheus" {
		t.Errorf("the ServiceMonitor's labels %v lack release: prometheus", monitor.GetLabels())
	}

	policy := typed[networkingv1.NetworkPolicy](t, r.one(t, "NetworkPolicy", namespace, "voice-operator-allow-metrics-traffic"))
	wantIngress := []networkingv1.NetworkPolicyIngressRule{{
		From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{
			MatchLabels: map[string]string{"kubernetes.io/metadata.name": "monitoring"},
		}}},
		Ports: []networkingv1.NetworkPolicyPort{{Port: new(intstr.FromInt32(8080)), Protocol: new(corev1.ProtocolTCP)}},
	}}
	if diff := cmp.Diff(wantIngress, policy.Spec.Ingress); diff != "" {
		t.Errorf("the NetworkPolicy's ingress (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]networkingv1.PolicyType{networkingv1.PolicyTypeIngress}, policy.Spec.PolicyTypes); diff != "" {
		t.Errorf("the NetworkPolicy's policyTypes (-want +got):\n%s", diff)
	}
}

// TestRenderDefaultNetworkPolicy checks the NetworkPolicy of
// config/network-policy: scrapes of 8443 from namespaces labelled
// metrics: enabled.
func TestRenderDefaultNetworkPolicy(t *testing.T) {
	r := render(t, values(t, "networkPolicy: {enabled: true}"))
	policy := typed[networkingv1.NetworkPolicy](t, r.one(t, "NetworkPolicy", namespace, "voice-operator-allow-metrics-traffic"))
	wantIngress := []networkingv1.NetworkPolicyIngressRule{{
		From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{
			MatchLabels: map[string]string{"metrics": "enabled"},
		}}},
		Ports: []networkingv1.NetworkPolicyPort{{Port: new(intstr.FromInt32(8443)), Protocol: new(corev1.ProtocolTCP)}},
	}}
	if diff := cmp.Diff(wantIngress, policy.Spec.Ingress); diff != "" {
		t.Errorf("the NetworkPolicy's ingress (-want +got):\n%s", diff)
	}
}

// TestRenderMetricsWithCertificate renders testdata/secure-monitoring.yaml:
// the metrics endpoint serves the certificate of a Secret, and the
// ServiceMonitor checks it against the CA instead of skipping verification.
func TestRenderMetricsWithCertificate(t *testing.T) {
	r := render(t, valuesFile(t, "secure-monitoring.yaml"))
	const certDir = "/tmp/k8s-metrics-server/metrics-certs"

	if arg := flagArg(r.args(t), "--metrics-cert-dir"); arg != "--metrics-cert-dir="+certDir {
		t.Errorf("the manager's args have %q, want --metrics-cert-dir=%s", arg, certDir)
	}
	deploy := deployment(t, r)
	wantMounts := []corev1.VolumeMount{{Name: "metrics-certs", MountPath: certDir, ReadOnly: true}}
	if diff := cmp.Diff(wantMounts, managerContainer(t, deploy).VolumeMounts); diff != "" {
		t.Errorf("the manager's volume mounts (-want +got):\n%s", diff)
	}
	wantVolumes := []corev1.Volume{{Name: "metrics-certs", VolumeSource: corev1.VolumeSource{
		Secret: &corev1.SecretVolumeSource{SecretName: "voice-operator-metrics-cert"},
	}}}
	if diff := cmp.Diff(wantVolumes, deploy.Spec.Template.Spec.Volumes); diff != "" {
		t.Errorf("the Pod's volumes (-want +got):\n%s", diff)
	}

	endpoint := serviceMonitorEndpoint(t, r.one(t, "ServiceMonitor", namespace, "voice-operator"))
	wantEndpoint := map[string]any{
		"path":            "/metrics",
		"port":            "https",
		"scheme":          "https",
		"bearerTokenFile": "/var/run/secrets/kubernetes.io/serviceaccount/token",
		"tlsConfig": map[string]any{
			"ca":         map[string]any{"secret": map[string]any{"name": "voice-operator-metrics-cert", "key": "ca.crt"}},
			"serverName": "voice-operator-metrics." + namespace + ".svc",
		},
	}
	if diff := cmp.Diff(wantEndpoint, endpoint); diff != "" {
		t.Errorf("the ServiceMonitor's endpoint (-want +got):\n%s", diff)
	}
}

// TestRenderServiceMonitorWithoutCA checks the ServiceMonitor of
// config/prometheus: HTTPS with Prometheus's token, and no certificate
// check, since the manager's own certificate is self-signed.
func TestRenderServiceMonitorWithoutCA(t *testing.T) {
	r := render(t, values(t, "serviceMonitor: {enabled: true}"))
	endpoint := serviceMonitorEndpoint(t, r.one(t, "ServiceMonitor", namespace, "voice-operator"))
	wantEndpoint := map[string]any{
		"path":            "/metrics",
		"port":            "https",
		"scheme":          "https",
		"bearerTokenFile": "/var/run/secrets/kubernetes.io/serviceaccount/token",
		"tlsConfig":       map[string]any{"insecureSkipVerify": true},
	}
	if diff := cmp.Diff(wantEndpoint, endpoint); diff != "" {
		t.Errorf("the ServiceMonitor's endpoint (-want +got):\n%s", diff)
	}
}

// TestRenderMetricsDisabled checks metrics.enabled false: the endpoint is
// off, and nothing that serves, scrapes or admits it is rendered, even when
// the ServiceMonitor and the NetworkPolicy are asked for; the NetworkPolicy
// then admits nothing.
func TestRenderMetricsDisabled(t *testing.T) {
	r := render(t, values(t, "{metrics: {enabled: false}, serviceMonitor: {enabled: true}, networkPolicy: {enabled: true}}"))

	if arg := flagArg(r.args(t), "--metrics-bind-address"); arg != "--metrics-bind-address=0" {
		t.Errorf("the manager's args have %q, want --metrics-bind-address=0", arg)
	}
	for _, port := range managerContainer(t, deployment(t, r)).Ports {
		if port.Name == "metrics" {
			t.Errorf("the manager declares the metrics port %d with metrics off", port.ContainerPort)
		}
	}
	for _, kind := range []string{"Service", "ServiceMonitor"} {
		if objs := r.ofKind(kind); len(objs) > 0 {
			t.Errorf("rendered %s with metrics off", rendered(objs))
		}
	}
	for _, obj := range r.ofKind("ClusterRole") {
		if strings.Contains(obj.GetName(), "metrics") {
			t.Errorf("rendered ClusterRole %s with metrics off", obj.GetName())
		}
	}
	policy := typed[networkingv1.NetworkPolicy](t, r.one(t, "NetworkPolicy", namespace, "voice-operator-allow-metrics-traffic"))
	if len(policy.Spec.Ingress) != 0 || !slices.Contains(policy.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
		t.Errorf("the NetworkPolicy has ingress %+v and policyTypes %v; want all ingress denied", policy.Spec.Ingress, policy.Spec.PolicyTypes)
	}
}

// TestRenderManagerRulesAreRoleYAML checks that the manager's rules, as a
// ClusterRole or as a Role per watched namespace, are exactly those of
// config/rbac/role.yaml, which controller-gen generates from the
// controllers' markers: the chart cannot ask for less than the code needs,
// nor more.
func TestRenderManagerRulesAreRoleYAML(t *testing.T) {
	want := typed[rbacv1.ClusterRole](t, readObject(t, "config/rbac/role.yaml")).Rules
	for _, tc := range []struct {
		name  string
		vals  map[string]any
		roles []string // kind namespace/name
	}{
		{"all namespaces", nil, []string{"ClusterRole /voice-operator-manager"}},
		{"watchNamespaces", values(t, "watchNamespaces: [a, b]"), []string{"Role a/voice-operator-manager", "Role b/voice-operator-manager"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := render(t, tc.vals)
			for _, role := range tc.roles {
				kind, nsName, _ := strings.Cut(role, " ")
				ns, name, _ := strings.Cut(nsName, "/")
				got := typed[rbacv1.ClusterRole](t, r.one(t, kind, ns, name)).Rules
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("the rules of %s differ from config/rbac/role.yaml (-role.yaml +chart):\n%s\n"+
						"The chart reads them from files/manager-role.yaml; after `make manifests`, run  %s",
						role, diff, updateCommand)
				}
			}
		})
	}
}

// TestRenderRolesMatchConfigRBAC checks that every other role of the chart
// grants what its counterpart in config/rbac grants, with the same
// aggregation labels, so `make deploy` and `helm install` give the same
// rights.
func TestRenderRolesMatchConfigRBAC(t *testing.T) {
	r := render(t, nil)
	for _, tc := range []struct{ kind, ns, name, config string }{
		{"Role", namespace, "voice-operator-leader-election", "config/rbac/leader_election_role.yaml"},
		{"ClusterRole", "", "voice-operator-metrics-auth", "config/rbac/metrics_auth_role.yaml"},
		{"ClusterRole", "", "voice-operator-metrics-reader", "config/rbac/metrics_reader_role.yaml"},
		{"ClusterRole", "", "voice-operator-editor", "config/rbac/editor_role.yaml"},
		{"ClusterRole", "", "voice-operator-viewer", "config/rbac/viewer_role.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			config := readObject(t, tc.config)
			chart := r.one(t, tc.kind, tc.ns, tc.name)
			want := typed[rbacv1.ClusterRole](t, config).Rules
			got := typed[rbacv1.ClusterRole](t, chart).Rules
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("the rules of %s differ from %s (-config +chart):\n%s", tc.name, tc.config, diff)
			}
			if diff := cmp.Diff(aggregationLabels(config), aggregationLabels(chart)); diff != "" {
				t.Errorf("the aggregation labels of %s differ from %s (-config +chart):\n%s", tc.name, tc.config, diff)
			}
		})
	}
}

// TestRenderSelectorsMatchThePods checks that the Service, the
// NetworkPolicy and the ServiceMonitor select what they are meant to: the
// manager's Pods, or the metrics Service.
func TestRenderSelectorsMatchThePods(t *testing.T) {
	r := render(t, valuesFile(t, "custom-values.yaml"))
	deploy := deployment(t, r)
	podLabels := deploy.Spec.Template.Labels
	if !selects(deploy.Spec.Selector.MatchLabels, podLabels) {
		t.Errorf("the Deployment's selector %v does not select its Pods' labels %v", deploy.Spec.Selector.MatchLabels, podLabels)
	}
	svc := typed[corev1.Service](t, r.one(t, "Service", namespace, "voice-operator-metrics"))
	if !selects(svc.Spec.Selector, podLabels) {
		t.Errorf("the metrics Service's selector %v does not select the Pods' labels %v", svc.Spec.Selector, podLabels)
	}
	policy := typed[networkingv1.NetworkPolicy](t, r.one(t, "NetworkPolicy", namespace, "voice-operator-allow-metrics-traffic"))
	if !selects(policy.Spec.PodSelector.MatchLabels, podLabels) {
		t.Errorf("the NetworkPolicy's podSelector %v does not select the Pods' labels %v", policy.Spec.PodSelector.MatchLabels, podLabels)
	}
	monitor := r.one(t, "ServiceMonitor", namespace, "voice-operator")
	monitorSelector, _, _ := unstructured.NestedStringMap(monitor.Object, "spec", "selector", "matchLabels")
	if !selects(monitorSelector, svc.Labels) {
		t.Errorf("the ServiceMonitor's selector %v does not select the Service's labels %v", monitorSelector, svc.Labels)
	}
	monitorNamespaces, _, _ := unstructured.NestedStringSlice(monitor.Object, "spec", "namespaceSelector", "matchNames")
	if !slices.Equal(monitorNamespaces, []string{namespace}) {
		t.Errorf("the ServiceMonitor looks in namespaces %q, want the release's", monitorNamespaces)
	}
}

// deployment returns the chart's one Deployment, the manager's.
func deployment(t testing.TB, r rendered) *appsv1.Deployment {
	t.Helper()
	deploys := r.ofKind("Deployment")
	if len(deploys) != 1 {
		t.Fatalf("rendered %d Deployments, want 1: %s", len(deploys), r)
	}
	return typed[appsv1.Deployment](t, deploys[0])
}

// configManager returns the Deployment of config/manager/manager.yaml.
func configManager(t testing.TB) *appsv1.Deployment {
	t.Helper()
	objs, err := decodeObjects(readRepoFile(t, filepath.Join("config", "manager", "manager.yaml")))
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range objs {
		if obj.GetKind() == "Deployment" {
			return typed[appsv1.Deployment](t, obj)
		}
	}
	t.Fatal("config/manager/manager.yaml has no Deployment")
	return nil
}

// managerContainer returns the container named manager.
func managerContainer(t testing.TB, deploy *appsv1.Deployment) corev1.Container {
	t.Helper()
	for _, c := range deploy.Spec.Template.Spec.Containers {
		if c.Name == "manager" {
			return c
		}
	}
	t.Fatalf("Deployment %s has no container named manager", deploy.Name)
	return corev1.Container{}
}

// readObject reads the single object of a file of the checkout.
func readObject(t testing.TB, path string) *unstructured.Unstructured {
	t.Helper()
	objs, err := decodeObjects(readRepoFile(t, path))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(objs) != 1 {
		t.Fatalf("%s holds %d objects, want 1", path, len(objs))
	}
	return objs[0]
}

// typed converts obj to its Go type, failing on a field the type does not
// have (a misspelt field would otherwise be dropped unseen).
func typed[T any](t testing.TB, obj *unstructured.Unstructured) *T {
	t.Helper()
	out := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(obj.Object, out, true); err != nil {
		t.Fatalf("%s %s: %v", obj.GetKind(), obj.GetName(), err)
	}
	return out
}

// checkArgs fails the test for each of want that args lack.
func checkArgs(t testing.TB, args []string, want ...string) {
	t.Helper()
	for _, arg := range want {
		if !slices.Contains(args, arg) {
			t.Errorf("the manager's args %q lack %s", args, arg)
		}
	}
}

// flagArg returns the argument that sets flag (as --flag or --flag=...),
// or "".
func flagArg(args []string, flag string) string {
	for _, arg := range args {
		if arg == flag || strings.HasPrefix(arg, flag+"=") {
			return arg
		}
	}
	return ""
}

// envNames lists the names of an environment.
func envNames(env []corev1.EnvVar) []string {
	var names []string
	for _, e := range env {
		names = append(names, e.Name)
	}
	return names
}

// serviceMonitorEndpoint returns the single endpoint of a ServiceMonitor.
func serviceMonitorEndpoint(t testing.TB, monitor *unstructured.Unstructured) map[string]any {
	t.Helper()
	endpoints, _, _ := unstructured.NestedSlice(monitor.Object, "spec", "endpoints")
	if len(endpoints) != 1 {
		t.Fatalf("the ServiceMonitor has %d endpoints, want 1: %v", len(endpoints), endpoints)
	}
	return endpoints[0].(map[string]any)
}

// aggregationLabels returns obj's rbac.authorization.k8s.io/aggregate-to-*
// labels.
func aggregationLabels(obj *unstructured.Unstructured) map[string]string {
	out := map[string]string{}
	for key, value := range obj.GetLabels() {
		if strings.HasPrefix(key, "rbac.authorization.k8s.io/aggregate-to-") {
			out[key] = value
		}
	}
	return out
}

// selects reports whether the selector's labels are all among labels.
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for key, value := range selector {
		if labels[key] != value {
			return false
		}
	}
	return true
}

// TestRenderPrometheusRuleHoldsTheTestedAlerts checks that the chart's
// PrometheusRule carries exactly the alerts of config/prometheus/alerts.yaml,
// which test/alerts tests with promtool, with the labels asked for; and that
// it is off by default and with metrics off.
func TestRenderPrometheusRuleHoldsTheTestedAlerts(t *testing.T) {
	if objs := render(t, values(t, "{}")).ofKind("PrometheusRule"); len(objs) > 0 {
		t.Errorf("rendered %s by default", rendered(objs))
	}
	if objs := render(t, values(t, "{metrics: {enabled: false}, prometheusRule: {enabled: true}}")).ofKind("PrometheusRule"); len(objs) > 0 {
		t.Errorf("rendered %s with metrics off", rendered(objs))
	}
	r := render(t, values(t, "prometheusRule: {enabled: true, labels: {release: kube-prometheus-stack}}"))
	rule := r.one(t, "PrometheusRule", namespace, "voice-operator-alerts")
	data, err := os.ReadFile(filepath.Join(repoRoot, alertRules))
	if err != nil {
		t.Fatal(err)
	}
	var want struct {
		Spec map[string]any `json:"spec"`
	}
	if err := yaml.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want.Spec, rule.Object["spec"]); diff != "" {
		t.Errorf("the chart's PrometheusRule differs from %s (-want +got):\n%s", alertRules, diff)
	}
	if got := rule.GetLabels()["release"]; got != "kube-prometheus-stack" {
		t.Errorf("the PrometheusRule's release label is %q, want the one asked for", got)
	}
}
