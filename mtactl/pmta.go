package mtactl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"cutover/model"
)

// PowerMTA. Pools have no weights (round-robin only), so the split uses the
// documented cold-VirtualMTA reroute (PowerMTA v5 User's Guide §10.7): the
// warm (OLD) VirtualMTA names its cold one, and per domain the first N
// messages a day are rerouted to it. The guide suggests exactly this "to
// route traffic from an old server to a new server". N is a daily count,
// not a share: N = ratio × expected daily volume of the domain.
//
// Two blocks the operator places in /etc/pmta/config:
//
//	<virtual-mta vmta-old>
//	    smtp-source-host 192.0.2.10 old.example.com
//	    # BEGIN cutover split
//	    cold-virtual-mta vmta-new
//	    <domain gmail.com>
//	        max-cold-virtual-mta-msg 3000/day
//	    </domain>
//	    # END cutover split
//	</virtual-mta>
//	<virtual-mta vmta-new>
//	    smtp-source-host 198.51.100.20 new.example.com
//	    # BEGIN cutover throttles
//	    <domain gmail.com>
//	        max-msg-rate 500/h
//	        max-smtp-out 5
//	        max-msg-per-connection 50
//	    </domain>
//	    # END cutover throttles
//	</virtual-mta>
//
// Every directive written here is in the v5 guide: cold-virtual-mta and
// max-cold-virtual-mta-msg (§10.7, §3.3.10), max-msg-rate (N/h),
// max-smtp-out and max-msg-per-connection (<domain> directives §3.3.10; see
// shared/reference/mta-formats.md §2.1, §2.3).

type pmtaDriver struct {
	cfg *PMTAConfig
	r   *runner
}

func newPMTA(cfg *PMTAConfig, r *runner) *pmtaDriver { return &pmtaDriver{cfg: cfg, r: r} }

func (d *pmtaDriver) Name() string    { return "pmta" }
func (d *pmtaDriver) LockDir() string { return filepath.Dir(d.cfg.Config) }

func (d *pmtaDriver) blocks() []string {
	bs := []string{"throttles"}
	if d.cfg.Split == "cold-vmta" {
		bs = []string{"split", "throttles"}
	}
	if d.cfg.PacingPatterns {
		bs = append(bs, "pacing")
	}
	return bs
}

func (d *pmtaDriver) Files() []ManagedFile {
	fs := []ManagedFile{{Path: d.cfg.Config, Blocks: d.blocks(), Indent: true}}
	if d.cfg.Split == "weights" {
		fs = append(fs, ManagedFile{Path: d.cfg.WeightsFile, Perm: 0o644})
	}
	return fs
}

// pmtaAll is the count written at 100 %: the cold VirtualMTA takes every
// message a domain is expected to get in a day, many times over.
func pmtaAll(daily int) int { return max(daily*10, 1000000) }

func (d *pmtaDriver) Render(in RenderInput) (map[string]Managed, []string, error) {
	des := in.Desired
	var notes []string
	var split, thr strings.Builder
	split.WriteString(blockHeader)
	thr.WriteString(blockHeader)
	fmt.Fprintf(&split, "cold-virtual-mta %s\n", d.cfg.ColdVMTA)
	for _, isp := range sortedKeys(in.Providers) {
		doms := slices.Sorted(slices.Values(in.Providers[isp]))
		ratio := des.RatioFor(isp)
		t := des.Throttles[isp]
		for _, dom := range doms {
			daily := in.DailyVolume[dom]
			n := model.ExpectedDaily(ratio, daily)
			if ratio >= 100 {
				n = pmtaAll(daily)
			}
			if ratio > 0 && ratio < 100 && daily == 0 && d.cfg.Split == "cold-vmta" {
				n = 0
				notes = append(notes, fmt.Sprintf("%s: no daily volume known for %s, so nothing moves to NEW there; set daily_volume in [mtactl.pmta]", isp, dom))
			}
			fmt.Fprintf(&split, "<domain %s>\n    max-cold-virtual-mta-msg %d/day\n</domain>\n", dom, n)
			if t.IsZero() && !d.cfg.PacingPatterns {
				continue
			}
			fmt.Fprintf(&thr, "<domain %s>\n", dom)
			if t.PerHour > 0 {
				fmt.Fprintf(&thr, "    max-msg-rate %d/h\n", t.PerHour)
			}
			if t.Connections > 0 {
				fmt.Fprintf(&thr, "    max-smtp-out %d\n", t.Connections)
			}
			if t.PerConnection > 0 {
				fmt.Fprintf(&thr, "    max-msg-per-connection %d\n", t.PerConnection)
			}
			if d.cfg.PacingPatterns {
				for _, l := range pacingDomainLines(in.Pacing, isp, t) {
					fmt.Fprintf(&thr, "    %s\n", l)
				}
			}
			thr.WriteString("</domain>\n")
		}
	}
	if d.cfg.Split == "cold-vmta" && (des.RatioNew > 0 || len(des.PerISP) > 0) {
		notes = append(notes, "cold-VirtualMTA split is a daily count per domain (the first N messages each day go to NEW), not a share of every hour")
		if des.RatioNew > 0 {
			notes = append(notes, fmt.Sprintf("domains outside the configured providers stay on OLD (PowerMTA counts per domain; %d%% applies to provider domains)", des.RatioNew))
		}
	}
	out := map[string]Managed{}
	blocks := map[string]string{"throttles": thr.String()}
	if d.cfg.Split == "cold-vmta" {
		blocks["split"] = split.String()
	}
	if d.cfg.PacingPatterns {
		if in.Pacing == nil {
			return nil, nil, errors.New("pacing_patterns: no [pacing] rules")
		}
		pl, err := pacingPatterns(in.Pacing)
		if err != nil {
			return nil, nil, fmt.Errorf("pacing_patterns: %w", err)
		}
		blocks["pacing"] = blockHeader + pl
		notes = append(notes, "PowerMTA backs off by itself on the [pacing] replies (smtp-pattern-list "+PacingPatternList+"); cutover's overlays still apply on top")
	}
	out[d.cfg.Config] = Managed{Blocks: blocks}
	if d.cfg.Split == "weights" {
		w := weightsFile{Version: 1, RatioNew: des.RatioNew, Providers: map[string]weightsProvider{}}
		for _, isp := range sortedKeys(in.Providers) {
			w.Providers[isp] = weightsProvider{RatioNew: des.RatioFor(isp), Domains: slices.Sorted(slices.Values(in.Providers[isp]))}
		}
		b, _ := json.MarshalIndent(w, "", "  ")
		out[d.cfg.WeightsFile] = Managed{Whole: append(b, '\n')}
	}
	return out, notes, nil
}

// weightsFile is what an injector reads to choose x-virtual-mta per message:
// the share to NEW per provider (by recipient domain), the rest to OLD.
type weightsFile struct {
	Version   int                        `json:"version"`
	RatioNew  int                        `json:"ratio_new"` // domains of no provider
	Providers map[string]weightsProvider `json:"providers"`
}

type weightsProvider struct {
	RatioNew int      `json:"ratio_new"`
	Domains  []string `json:"domains"`
}

func (d *pmtaDriver) Build(context.Context, []string) error { return nil }

func (d *pmtaDriver) Validate(ctx context.Context, changed []string) error {
	if !slices.Contains(changed, d.cfg.Config) {
		return nil // only the weights file changed: PowerMTA does not read it
	}
	if res := d.r.run(ctx, d.cfg.Test); res.Err != nil || strings.Contains(strings.ToLower(res.Stdout+res.Stderr), "error in line") {
		return stepErr(d.Name(), "validate", res)
	}
	return nil
}

// Reload: "pmta reload" keeps the old in-memory config when the new one is
// broken, and the weights file needs no reload at all.
func (d *pmtaDriver) Reload(ctx context.Context, changed []string) (bool, error) {
	if !slices.Contains(changed, d.cfg.Config) {
		return false, nil
	}
	if res := d.r.run(ctx, d.cfg.Reload); res.Err != nil {
		return false, stepErr(d.Name(), "reload", res)
	}
	return true, nil
}
