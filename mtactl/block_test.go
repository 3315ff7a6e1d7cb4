package mtactl

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
)

func ptr(s string) *string { return &s }

func TestSpliceReplacesOnlyTheBlock(t *testing.T) {
	in := "a = 1\n# BEGIN cutover\nold content\n# END cutover\nz = 2\n"
	out, err := spliceBlocks([]byte(in), "f", map[string]*string{"": ptr("new\ncontent")}, false)
	if err != nil {
		t.Fatal(err)
	}
	want := "a = 1\n# BEGIN cutover\nnew\ncontent\n# END cutover\nz = 2\n"
	if string(out) != want {
		t.Fatalf("got %q", out)
	}
	// empty content keeps the markers
	out, _ = spliceBlocks([]byte(in), "f", map[string]*string{"": ptr("")}, false)
	if string(out) != "a = 1\n# BEGIN cutover\n# END cutover\nz = 2\n" {
		t.Fatalf("empty: %q", out)
	}
	// nil removes block and markers: back to the operator's bytes
	out, _ = spliceBlocks([]byte(in), "f", map[string]*string{"": nil}, false)
	if string(out) != "a = 1\nz = 2\n" {
		t.Fatalf("remove: %q", out)
	}
}

func TestSpliceNamedBlocksAndIndent(t *testing.T) {
	in := "<virtual-mta old>\n    x 1\n    # BEGIN cutover split\n    # END cutover split\n</virtual-mta>\n\t#  BEGIN cutover throttles  \n\t# END cutover throttles\nother\n"
	out, err := spliceIndented([]byte(in), "f", map[string]*string{"split": ptr("a\n\nb\n"), "throttles": ptr("c")}, false, true)
	if err != nil {
		t.Fatal(err)
	}
	want := "<virtual-mta old>\n    x 1\n    # BEGIN cutover split\n    a\n\n    b\n    # END cutover split\n</virtual-mta>\n\t#  BEGIN cutover throttles  \n\tc\n\t# END cutover throttles\nother\n"
	if string(out) != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
	got, err := blockContents(out, "f", []string{"split", "throttles", "absent"})
	if err != nil {
		t.Fatal(err)
	}
	if *got["split"] != "    a\n\n    b\n" || *got["throttles"] != "\tc\n" || got["absent"] != nil {
		t.Fatalf("contents %q %q %v", *got["split"], *got["throttles"], got["absent"])
	}
	// a block not asked for is left alone
	out2, _ := spliceBlocks(out, "f", map[string]*string{"throttles": ptr("d\n")}, false)
	if !strings.Contains(string(out2), "    a\n\n    b\n") {
		t.Fatal("unrelated block changed")
	}
}

func TestSpliceAppendAndMissingMarkers(t *testing.T) {
	out, err := spliceBlocks([]byte("x = 1"), "main.cf", map[string]*string{"": ptr("y = 2\n")}, true)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "x = 1\n# BEGIN cutover\ny = 2\n# END cutover\n" {
		t.Fatalf("append: %q", out)
	}
	_, err = spliceBlocks([]byte("begin routers\n"), "exim.conf", map[string]*string{"routers": ptr("r:\n")}, false)
	if err == nil || !strings.Contains(err.Error(), "# BEGIN cutover routers / # END cutover routers") {
		t.Fatalf("missing markers: %v", err)
	}
}

func TestFindBlocksRefusesBrokenMarkers(t *testing.T) {
	for name, in := range map[string]string{
		"no end":        "# BEGIN cutover\nx\n",
		"no begin":      "x\n# END cutover\n",
		"nested":        "# BEGIN cutover a\n# BEGIN cutover b\n# END cutover b\n# END cutover a\n",
		"wrong end":     "# BEGIN cutover a\n# END cutover b\n",
		"duplicate":     "# BEGIN cutover a\n# END cutover a\n# BEGIN cutover a\n# END cutover a\n",
		"near miss":     "# begin cutover\n# END cutover\n",
		"extra words":   "# BEGIN cutover a b\n# END cutover a\n",
		"lowercase end": "# BEGIN cutover\n#end cutover\n",
	} {
		if _, err := findBlocks([]byte(in), "f"); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !strings.Contains(err.Error(), "f:") {
			t.Errorf("%s: error lacks the file and line: %v", name, err)
		}
	}
	// ordinary comments mentioning cutover are fine
	if _, err := findBlocks([]byte("# the cutover relay\n# send via cutover\n"), "f"); err != nil {
		t.Fatal(err)
	}
}

// Property: whatever the block content, splicing never changes a byte
// outside the block, and splicing the old content back restores the file.
func TestSpliceOutsideBytesProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"a = 1\n", "  continued\n", "# comment\n", "\n", "x\ty\n", "<domain x>\n", "no newline"}
	for i := 0; i < 500; i++ {
		var pre, post strings.Builder
		for j := r.IntN(5); j > 0; j-- {
			pre.WriteString(pieces[r.IntN(len(pieces)-1)])
		}
		for j := r.IntN(5); j > 0; j-- {
			post.WriteString(pieces[r.IntN(len(pieces))])
		}
		old := ""
		for j := r.IntN(4); j > 0; j-- {
			old += pieces[r.IntN(len(pieces)-1)]
		}
		file := pre.String() + "# BEGIN cutover\n" + old + "# END cutover\n" + post.String()
		content := strings.Repeat("new line\n", r.IntN(4))
		out, err := spliceBlocks([]byte(file), "f", map[string]*string{"": &content}, false)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := outside([]byte(file), "f", []string{""})
		b, _ := outside(out, "f", []string{""})
		if !bytes.Equal(a, b) {
			t.Fatalf("outside bytes changed:\n%q\n%q", file, out)
		}
		back, _ := spliceBlocks(out, "f", map[string]*string{"": &old}, false)
		if string(back) != file {
			t.Fatalf("round trip:\n%q\n%q", file, back)
		}
	}
}

func TestOutsideLines(t *testing.T) {
	lines, err := outsideLines([]byte("a\n# BEGIN cutover\nb\n# END cutover\nc\n"), "f")
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 2 || lines[0] != (numberedLine{1, "a"}) || lines[1] != (numberedLine{5, "c"}) {
		t.Fatalf("%+v", lines)
	}
}
