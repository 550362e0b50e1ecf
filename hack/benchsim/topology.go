package main

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/internal/procedure"
	"github.com/vobox-operator/vobox-operator/internal/remote/sim"
)

// The simulated site: hosts named h00001…, grouped into interventions of at
// most perIntervention hosts. In each group the first host is a database
// host, the next two Framework hosts, every tenth a host with agents and
// services, the others alternately services and agents hosts. Every fourth
// intervention also takes two services hosts of the one before it, so that
// it waits for their Leases.

// Where things are on the simulated hosts.
var layout = sim.Layout{
	Root:        "/opt/dirac",
	MysqlServer: "/opt/dirac/pro/mysql/share/mysql/mysql.server",
	JournalFrom: "/opt/dirac/mysql/log",
	JournalTo:   "/srv/mysql-log",
}

var (
	maintenanceSet   = []string{"sms", "set", "maintenance", "{reason}", "other", "{host}"}
	maintenanceClear = []string{"sms", "clear", "maintenance", "{reason}", "{host}"}
)

// The checks and timeouts of every intervention.
const (
	componentUptime = 10 * time.Second
	// settleDelay is the agents' wait after the services are up (60s by
	// default): shorter, so that the benchmark spends its time on work.
	settleDelay = 10 * time.Second
	stopTimeout = 60 * time.Second
	stepTimeout = 5 * time.Minute
)

// host is one simulated host as the benchmark built it.
type host struct {
	name  string
	db    bool
	roles []diracv1.Role
	comps []sim.Component
}

// group is one intervention's hosts; shared are those it takes from the
// intervention before it.
type group struct {
	name   string
	hosts  []*host
	shared map[string]bool
}

func services(prefix string, n int) []sim.Component {
	out := make([]sim.Component, n)
	for i := range out {
		out[i] = sim.Component{Link: fmt.Sprintf("%s_Service%d", prefix, i)}
	}
	return out
}

func agents(prefix string, n int) []sim.Component {
	out := make([]sim.Component, n)
	for i := range out {
		out[i] = sim.Component{Link: fmt.Sprintf("%s_Agent%d", prefix, i), Agent: true}
	}
	return out
}

// topology splits n hosts into interventions of at most per hosts.
func topology(n, per int) []*group {
	k := (n + per - 1) / per
	var groups []*group
	next := 1
	for i := range k {
		size := n / k
		if i < n%k {
			size++
		}
		g := &group{name: fmt.Sprintf("vbi-%03d", i), shared: map[string]bool{}}
		for j := range size {
			h := &host{name: fmt.Sprintf("h%05d", next)}
			next++
			switch {
			case j == 0:
				h.db, h.roles = true, []diracv1.Role{diracv1.RoleDatabase}
			case j <= 2:
				h.roles = []diracv1.Role{diracv1.RoleFramework}
				h.comps = []sim.Component{{Link: "Configuration_Server"}, {Link: "Framework_SystemAdministrator"}, {Link: "Framework_ProxyManager"}}
			case j%10 == 3:
				h.roles = []diracv1.Role{diracv1.RoleAgents, diracv1.RoleServices}
				h.comps = append(services("RequestManagement", 3), agents("RequestManagement", 3)...)
			case j%2 == 0:
				h.roles = []diracv1.Role{diracv1.RoleServices}
				h.comps = services("WorkloadManagement", 6)
			default:
				h.roles = []diracv1.Role{diracv1.RoleAgents}
				h.comps = agents("Transformation", 6)
			}
			g.hosts = append(g.hosts, h)
		}
		groups = append(groups, g)
	}
	for i, g := range groups {
		if i%4 != 3 {
			continue
		}
		taken := 0
		for _, h := range groups[i-1].hosts {
			if taken < 2 && len(h.roles) == 1 && h.roles[0] == diracv1.RoleServices {
				g.hosts = append(g.hosts, h)
				g.shared[h.name] = true
				groups[i-1].shared[h.name] = true
				taken++
			}
		}
	}
	return groups
}

// spec is the intervention of a group.
func (g *group) spec(ns string) *diracv1.VOBoxIntervention {
	vbi := &diracv1.VOBoxIntervention{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: g.name},
		Spec: diracv1.VOBoxInterventionSpec{
			State:       diracv1.StateDown,
			Reason:      "power stop",
			SSH:         diracv1.SSHSpec{SecretRef: diracv1.SecretReference{Name: "ssh"}},
			Layout:      diracv1.LayoutSpec{DiracRoot: layout.Root, MysqlServer: layout.MysqlServer},
			Maintenance: diracv1.MaintenanceSpec{Set: maintenanceSet, Clear: maintenanceClear},
			Database:    diracv1.DatabaseSpec{InnodbLog: &diracv1.InnodbLogSpec{From: layout.JournalFrom, To: layout.JournalTo}},
			Checks: diracv1.ChecksSpec{ComponentUptime: metav1.Duration{Duration: componentUptime},
				SettleDelay: metav1.Duration{Duration: settleDelay}},
			Strategy: diracv1.StrategySpec{
				StopTimeout: metav1.Duration{Duration: stopTimeout},
				StepTimeout: metav1.Duration{Duration: stepTimeout},
			},
		},
	}
	for _, h := range g.hosts {
		vbi.Spec.Hosts = append(vbi.Spec.Hosts, diracv1.HostSpec{Name: h.name, Roles: h.roles})
	}
	return vbi
}

// plan is the group's plan towards state.
func (g *group) plan(state diracv1.State) procedure.Plan {
	s := g.spec("").Spec
	s.State = state
	return procedure.BuildPlan(&s)
}
