// Command semveroracle answers questions about Go versions with golang.org/x/mod itself, so that the
// tests can check goship.semver against the real thing.
//
// Each stdin line is a JSON array naming an operation and its operands; each answer is one JSON
// object on stdout, in the same order:
//
//	["v", version]           every per-version function of semver and module
//	["cmp", v, w]            semver.Compare and semver.Max
//	["sort", [v, ...]]       semver.Sort
//	["path", path]           module.SplitPathVersion and module.PathMajorPrefix of its major
//	["pm", version, major]   module.CheckPathMajor
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

type versionFacts struct {
	IsValid    bool   `json:"is_valid"`
	Canonical  string `json:"canonical"`
	Major      string `json:"major"`
	MajorMinor string `json:"major_minor"`
	Prerelease string `json:"prerelease"`
	Build      string `json:"build"`
	IsPseudo   bool   `json:"is_pseudo"`
	Base       string `json:"base"`
	BaseErr    string `json:"base_err"`
	Rev        string `json:"rev"`
	RevErr     string `json:"rev_err"`
	Time       string `json:"time"`
	TimeErr    string `json:"time_err"`
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func describe(v string) versionFacts {
	f := versionFacts{
		IsValid:    semver.IsValid(v),
		Canonical:  semver.Canonical(v),
		Major:      semver.Major(v),
		MajorMinor: semver.MajorMinor(v),
		Prerelease: semver.Prerelease(v),
		Build:      semver.Build(v),
		IsPseudo:   module.IsPseudoVersion(v),
	}
	var err error
	f.Base, err = module.PseudoVersionBase(v)
	f.BaseErr = errText(err)
	f.Rev, err = module.PseudoVersionRev(v)
	f.RevErr = errText(err)
	t, err := module.PseudoVersionTime(v)
	if err == nil {
		f.Time = t.UTC().Format(module.PseudoVersionTimestampFormat)
	}
	f.TimeErr = errText(err)
	return f
}

// pathMajorPrefix turns PathMajorPrefix's panic on a malformed suffix into an answer.
func pathMajorPrefix(pathMajor string) (prefix string, panicked bool) {
	defer func() {
		if recover() != nil {
			prefix, panicked = "", true
		}
	}()
	return module.PathMajorPrefix(pathMajor), false
}

func answer(op []json.RawMessage) (any, error) {
	var name string
	if len(op) == 0 {
		return nil, fmt.Errorf("empty operation")
	}
	if err := json.Unmarshal(op[0], &name); err != nil {
		return nil, err
	}
	strs := func(n int) ([]string, error) {
		if len(op) != n+1 {
			return nil, fmt.Errorf("%s takes %d operands, got %d", name, n, len(op)-1)
		}
		out := make([]string, n)
		for i := range out {
			if err := json.Unmarshal(op[i+1], &out[i]); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	switch name {
	case "v":
		a, err := strs(1)
		if err != nil {
			return nil, err
		}
		return describe(a[0]), nil
	case "cmp":
		a, err := strs(2)
		if err != nil {
			return nil, err
		}
		return map[string]any{"compare": semver.Compare(a[0], a[1]), "max": semver.Max(a[0], a[1])}, nil
	case "sort":
		var list []string
		if len(op) != 2 {
			return nil, fmt.Errorf("sort takes one list")
		}
		if err := json.Unmarshal(op[1], &list); err != nil {
			return nil, err
		}
		semver.Sort(list)
		return map[string]any{"sorted": list}, nil
	case "path":
		a, err := strs(1)
		if err != nil {
			return nil, err
		}
		prefix, pathMajor, ok := module.SplitPathVersion(a[0])
		out := map[string]any{"prefix": prefix, "path_major": pathMajor, "ok": ok}
		if ok && pathMajor != "" {
			out["major_prefix"], out["major_prefix_panics"] = pathMajorPrefix(pathMajor)
		}
		return out, nil
	case "pm":
		a, err := strs(2)
		if err != nil {
			return nil, err
		}
		err = module.CheckPathMajor(a[0], a[1])
		return map[string]any{"match": module.MatchPathMajor(a[0], a[1]), "err": errText(err)}, nil
	}
	return nil, fmt.Errorf("unknown operation %q", name)
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<26)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	for in.Scan() {
		var op []json.RawMessage
		if err := json.Unmarshal(in.Bytes(), &op); err != nil {
			fmt.Fprintf(os.Stderr, "semveroracle: bad line %q: %v\n", in.Text(), err)
			os.Exit(2)
		}
		res, err := answer(op)
		if err != nil {
			fmt.Fprintf(os.Stderr, "semveroracle: %v\n", err)
			os.Exit(2)
		}
		if err := enc.Encode(res); err != nil {
			fmt.Fprintf(os.Stderr, "semveroracle: %v\n", err)
			os.Exit(2)
		}
	}
	if err := in.Err(); err != nil {
		fmt.Fprintf(os.Stderr, "semveroracle: %v\n", err)
		os.Exit(2)
	}
}
