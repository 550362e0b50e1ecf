package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/vobox-operator/vobox-operator/hack/lab/labstatus"
)

// hostPlan is a host to create: name, roles and components, before paths and
// addresses are assigned.
type hostPlan struct {
	name       string
	roles      []string
	components []string // System_Component
	innodbMove bool
}

// agentNames are the components that behave as agents. DIRAC agents mostly
// end in "Agent", but not all (SiteDirector).
var agentNames = map[string]bool{
	"WorkloadManagement_SiteDirector": true,
}

func componentKind(link string) string {
	if strings.HasSuffix(link, "Agent") || agentNames[link] {
		return labstatus.KindAgent
	}
	return labstatus.KindService
}

// seedTopology is the procedure document's setup (22 February 2011).
func seedTopology() []hostPlan {
	return []hostPlan{
		{name: "volhcb15", roles: []string{labstatus.RoleServices}, components: []string{
			"WorkloadManagement_JobManager", "WorkloadManagement_JobMonitoring",
			"WorkloadManagement_Matcher", "WorkloadManagement_SandboxStore"}},
		{name: "volhcb17", roles: []string{labstatus.RoleServices}, components: []string{
			"DataManagement_FileCatalog", "DataManagement_StorageElement", "RequestManagement_ReqManager"}},
		{name: "volhcb18", roles: []string{labstatus.RoleFramework}, components: []string{
			"Configuration_Server", "Framework_SystemAdministrator", "Framework_ProxyManager",
			"Framework_BundleDelivery", "Framework_SecurityLogging"}},
		{name: "volhcb19", roles: []string{labstatus.RoleServices}, components: []string{
			"Accounting_DataStore", "Monitoring_Monitoring", "StorageManagement_StorageManager",
			"Transformation_TransformationManager"}},
		{name: "volhcb20", roles: []string{labstatus.RoleAgents}, components: []string{
			"WorkloadManagement_SiteDirector", "WorkloadManagement_JobCleaningAgent",
			"WorkloadManagement_StalledJobAgent", "DataManagement_FTS3Agent",
			"RequestManagement_RequestExecutingAgent", "Transformation_TransformationAgent"}},
		{name: "volhcb21", roles: []string{labstatus.RoleDatabase}, innodbMove: true},
		{name: "volhcb22", roles: []string{labstatus.RoleDatabase}, innodbMove: true},
		{name: "volhcb23", roles: []string{labstatus.RoleDatabase}, innodbMove: true},
		{name: "volhcb24", roles: []string{labstatus.RoleDatabase}, innodbMove: true},
		{name: "volhcb25", roles: []string{labstatus.RoleDatabase}},
		{name: "volhcb26", roles: []string{labstatus.RoleDatabase}},
	}
}

// Pools the scaled topology draws components from, three per host.
var (
	frameworkPool = []string{"Configuration_Server", "Framework_SystemAdministrator", "Framework_ProxyManager"}
	servicePool   = []string{
		"WorkloadManagement_JobManager", "WorkloadManagement_JobMonitoring", "WorkloadManagement_Matcher",
		"DataManagement_FileCatalog", "DataManagement_StorageElement", "RequestManagement_ReqManager",
		"Accounting_DataStore", "Monitoring_Monitoring", "StorageManagement_StorageManager",
	}
	agentPool = []string{
		"WorkloadManagement_SiteDirector", "WorkloadManagement_JobCleaningAgent", "WorkloadManagement_StalledJobAgent",
		"DataManagement_FTS3Agent", "RequestManagement_RequestExecutingAgent", "Transformation_TransformationAgent",
	}
)

// roleCounts splits n hosts into about 5% Database, 5% Framework, 30%
// Services and the rest Agents, at least one of each (n >= 4).
func roleCounts(n int) (db, fw, svc, ag int) {
	round := func(pct int) int {
		v := (n*pct + 50) / 100
		if v < 1 {
			v = 1
		}
		return v
	}
	db, fw, svc = round(5), round(5), round(30)
	ag = n - db - fw - svc
	for ag < 1 { // tiny n: take from the largest of the others
		switch {
		case svc > 1:
			svc--
		case db > 1:
			db--
		default:
			fw--
		}
		ag++
	}
	return db, fw, svc, ag
}

// scaledTopology is "up --hosts N": vobox001… with Database hosts first, then
// Framework, Services and Agents; three components per non-database host,
// rotating through the pools so that every component name appears. Every
// Database host takes part in the InnoDB journal move.
func scaledTopology(n int) ([]hostPlan, error) {
	if n < 4 || n > maxHosts {
		return nil, fmt.Errorf("--hosts must be between 4 and %d (one host of each role at least), got %d", maxHosts, n)
	}
	db, fw, svc, ag := roleCounts(n)
	var out []hostPlan
	idx := 0
	add := func(count int, role string, pool []string) {
		for i := 0; i < count; i++ {
			idx++
			p := hostPlan{name: fmt.Sprintf("vobox%03d", idx), roles: []string{role}}
			if role == labstatus.RoleDatabase {
				p.innodbMove = true
			} else {
				for j := 0; j < 3 && j < len(pool); j++ {
					p.components = append(p.components, pool[(i*3+j)%len(pool)])
				}
				p.components = dedupe(p.components)
			}
			out = append(out, p)
		}
	}
	add(db, labstatus.RoleDatabase, nil)
	add(fw, labstatus.RoleFramework, frameworkPool)
	add(svc, labstatus.RoleServices, servicePool)
	add(ag, labstatus.RoleAgents, agentPool)
	return out, nil
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// maxHosts is the API's limit on spec.hosts.
const maxHosts = 256

var netPattern = regexp.MustCompile(`^127\.([0-9]{1,3})$`)

// validateNet checks --net: 127.A with A in 0..255 (127.0 is allowed but
// collides with 127.0.0.1 services; prefer 127.1 and up).
func validateNet(net string) error {
	m := netPattern.FindStringSubmatch(net)
	if m == nil {
		return fmt.Errorf("--net must look like 127.A (loopback only), got %q", net)
	}
	if a, _ := strconv.Atoi(m[1]); a > 255 {
		return fmt.Errorf("--net %q: %d is not an octet", net, a)
	}
	return nil
}

// hostAddress is the address of the i-th host (0-based): <net>.X.Y with
// Y in 1..250, so host 0 is <net>.0.1 and host 250 is <net>.1.1.
func hostAddress(net string, i int) string {
	return fmt.Sprintf("%s.%d.%d", net, i/250, i%250+1)
}
