package cli

import (
	"os/exec"
	"strings"
	"testing"
)

// layerOf is the layer of a cutover package: its first path element below
// the module ("cutover" itself is main).
func layerOf(pkg string) string {
	if pkg == "cutover" {
		return "main"
	}
	rest, ok := strings.CutPrefix(pkg, "cutover/")
	if !ok {
		return "" // stdlib or a dependency: not checked here
	}
	top, _, _ := strings.Cut(rest, "/")
	return top
}

// mayImport is DESIGN's one direction of data flow:
// main → cli → owner → {ingest, mtactl, ui (ui/attach)} → state → model.
// ui never imports ingest (the owner wires the followers); nothing below
// owner imports owner; nothing but main imports cli.
var mayImport = map[string][]string{
	"model":  {"model"},
	"state":  {"model", "state"},
	"ingest": {"model", "state", "ingest"},
	"mtactl": {"model", "state", "mtactl"},
	"ui":     {"model", "state", "mtactl", "ui"},
	"owner":  {"model", "state", "ingest", "mtactl", "ui", "owner"},
	"cli":    {"model", "state", "ingest", "mtactl", "ui", "owner", "cli"},
	"main":   {"cli"},
}

// importViolations lists the imports of graph (package → its imports) that
// go against the flow.
func importViolations(graph map[string][]string) []string {
	var bad []string
	for pkg, imps := range graph {
		from := layerOf(pkg)
		allowed, known := mayImport[from]
		if !known {
			bad = append(bad, pkg+": package outside the design's layers")
			continue
		}
		for _, imp := range imps {
			to := layerOf(imp)
			if to == "" {
				continue
			}
			ok := false
			for _, a := range allowed {
				ok = ok || a == to
			}
			if !ok {
				bad = append(bad, pkg+" imports "+imp)
			}
		}
	}
	return bad
}

func TestImportGraphFollowsTheDesign(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}|{{join .Imports ","}},{{join .TestImports ","}},{{join .XTestImports ","}}`, "cutover/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	graph := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imps, _ := strings.Cut(line, "|")
		for _, imp := range strings.Split(imps, ",") {
			if imp != "" && imp != pkg {
				graph[pkg] = append(graph[pkg], imp)
			}
		}
		if _, ok := graph[pkg]; !ok {
			graph[pkg] = nil
		}
	}
	for _, want := range []string{"cutover", "cutover/cli", "cutover/owner", "cutover/ui/attach", "cutover/model"} {
		if _, ok := graph[want]; !ok {
			t.Fatalf("go list did not list %s: %s", want, out)
		}
	}
	if got := graph["cutover"]; len(got) == 0 {
		t.Errorf("main imports no cutover package; want cutover/cli")
	}
	for _, v := range importViolations(graph) {
		t.Error(v)
	}
}

// The check itself: each forbidden edge of the design is caught.
func TestImportViolationsCatchForbiddenEdges(t *testing.T) {
	for _, edge := range [][2]string{
		{"cutover/owner", "cutover/cli"},
		{"cutover/ui", "cutover/ingest"},
		{"cutover/ui/attach", "cutover/owner"},
		{"cutover/ingest/pmta", "cutover/owner"},
		{"cutover/state", "cutover/mtactl"},
		{"cutover/model", "cutover/state"},
		{"cutover/mtactl", "cutover/ingest"},
		{"cutover", "cutover/owner"},
		{"cutover/newthing", "cutover/model"},
	} {
		if v := importViolations(map[string][]string{edge[0]: {edge[1]}}); len(v) != 1 {
			t.Errorf("%s → %s: %v, want one violation", edge[0], edge[1], v)
		}
	}
	ok := map[string][]string{"cutover/cli": {"cutover/owner", "fmt"}, "cutover/owner": {"cutover/ui/attach", "cutover/ingest/pmta"},
		"cutover/ui/attach": {"cutover/ui", "cutover/mtactl"}, "cutover": {"cutover/cli", "os"}}
	if v := importViolations(ok); len(v) > 0 {
		t.Errorf("allowed edges reported: %v", v)
	}
}
