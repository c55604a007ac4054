// Package chaos proves that the operator converges, and neither leaks nor
// duplicates remote configurations, while its process is SIGKILLed at random
// moments, while the Voice API fails in every way it is allowed to, and
// while leadership passes from a killed leader to its standby.
//
// Each test runs a storm: seeded, randomized creates, spec edits and deletes
// of ClientConfigurations, written to a real kube-apiserver (envtest) while
// the operator binary runs as its own process against the simulator. After
// the storm the faults stop, the test waits (bounded) for convergence and
// then compares the end state exactly: the apiserver holds exactly the
// objects still wanted, each Ready; the simulator holds exactly one remote
// configuration per live object, with its fields; nothing else.
//
// `make test` runs a small storm (60 objects, 3 kills). `-chaos.long` runs
// 300 objects and 6 kills; `-chaos.seed` replays a seed a run printed:
//
//	KUBEBUILDER_ASSETS=$PWD/bin/k8s/1.37.2 go test ./test/chaos/ -v -chaos.long -chaos.seed=42
package chaos
