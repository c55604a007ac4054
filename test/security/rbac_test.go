package security_test

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// TestClusterRoleIsLeastPrivilege pins the ClusterRole generated from the
// controllers' RBAC markers: read-only access to Secrets, Events to write,
// and no verb on the two kinds beyond what reconciling needs (no create or
// delete: only people create and delete these objects).
func TestClusterRoleIsLeastPrivilege(t *testing.T) {
	data, err := os.ReadFile("../../config/rbac/role.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var role rbacv1.ClusterRole
	if err := yaml.Unmarshal(data, &role); err != nil {
		t.Fatal(err)
	}
	want := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{"events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"create"}},
		{APIGroups: []string{"voice.twilio-operator.io"}, Resources: []string{"accountdefaults", "clientconfigurations"}, Verbs: []string{"get", "list", "patch", "update", "watch"}},
		{APIGroups: []string{"voice.twilio-operator.io"}, Resources: []string{"accountdefaults/finalizers", "clientconfigurations/finalizers"}, Verbs: []string{"update"}},
		{APIGroups: []string{"voice.twilio-operator.io"}, Resources: []string{"accountdefaults/status", "clientconfigurations/status"}, Verbs: []string{"get", "patch", "update"}},
	}
	if diff := cmp.Diff(want, role.Rules); diff != "" {
		t.Errorf("config/rbac/role.yaml grants other rules than the controllers need (-want +got):\n%s", diff)
	}
	for _, rule := range role.Rules {
		for _, r := range rule.Resources {
			for _, v := range rule.Verbs {
				if r == "secrets" && v != "get" && v != "list" && v != "watch" {
					t.Errorf("the operator may %s secrets; it must only read them", v)
				}
				if v == "*" || r == "*" {
					t.Errorf("wildcard in rule %+v", rule)
				}
			}
		}
	}
}
