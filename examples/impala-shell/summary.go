package main

import (
	"fmt"
	"math"
	"strconv"

	"github.com/impalalb/impalalb/conn"
)

// The summary command's table, as impala-shell builds it
// (shell/impala_shell/exec_summary.py, build_exec_summary_table, itself a
// translation of Impala's Coordinator::PrintExecSummary): one row per plan
// node in the coordinator's order, the first child of a node listed after
// its other children, each indented with "|" and "--" by its depth; the
// average and maximum over the node's instances; times, row counts and
// bytes in human units.

// summaryHeader is the header of the summary table.
var summaryHeader = []string{"Operator", "#Hosts", "#Inst", "Avg Time", "Max Time", "#Rows", "Est. #Rows", "Peak Mem", "Est. Peak Mem", "Detail"}

// summaryRows returns the rows of the summary table of s.
func summaryRows(s *conn.Summary) [][]string {
	var out [][]string
	if len(s.Plan) > 0 {
		summaryNode(s, 0, 0, false, &out, make([]bool, len(s.Plan)))
	}
	return out
}

// humanUnits prints v as impala-shell's prettyprint: in the first unit v
// fits under divisor, as an integer in the first unit and with two
// decimals after; "None" past the last unit.
func humanUnits(v float64, units []string, divisor float64) string {
	for i, u := range units {
		if v < divisor {
			if i == 0 {
				return strconv.FormatInt(int64(math.Trunc(v)), 10) + u
			}
			return fmt.Sprintf("%3.2f%s", v, u)
		}
		v /= divisor
	}
	return "None"
}

func humanTime(ns float64) string { return humanUnits(ns, []string{"ns", "us", "ms", "s"}, 1000) }
func humanCount(n float64) string { return humanUnits(n, []string{"", "K", "M", "B"}, 1000) }
func humanBytes(b float64) string {
	return humanUnits(b, []string{" B", " KB", " MB", " GB", " TB"}, 1024)
}
func pyOptInt(n int, set bool) string {
	if !set {
		return "None"
	}
	return strconv.Itoa(n)
}

// summaryNode appends the rows of the node at idx and its subtree, and
// returns the index after the subtree. Each node is printed once (seen),
// whatever a coordinator's exchange map says.
func summaryNode(s *conn.Summary, idx, indent int, newIndent bool, out *[][]string, seen []bool) int {
	if idx < 0 || idx >= len(s.Plan) || seen[idx] {
		return len(s.Plan)
	}
	seen[idx] = true
	n := s.Plan[idx]
	var aggLatency, aggCard int64
	var maxLatency, maxCard, maxMem int64
	avg := "0ns"
	if len(n.Instances) > 0 {
		for _, st := range n.Instances {
			if st.LatencyNs >= 0 {
				aggLatency += st.LatencyNs
				maxLatency = max(maxLatency, st.LatencyNs)
			}
			if st.Cardinality >= 0 {
				aggCard += st.Cardinality
				maxCard = max(maxCard, st.Cardinality)
			}
			if st.MemoryUsed >= 0 {
				maxMem = max(maxMem, st.MemoryUsed)
			}
		}
		avg = humanTime(float64(aggLatency) / float64(len(n.Instances)))
	}
	prefix := ""
	if indent > 0 {
		prefix = "|"
		for i := 1; i < indent; i++ {
			prefix += "  |"
		}
		if newIndent {
			prefix += "--"
		} else {
			prefix += "  "
		}
	}
	card, estCard, estMem := "", "", "None"
	if n.ID != -1 { // not a data sink
		card = humanCount(float64(aggCard))
	}
	if e := n.Estimated; e != nil {
		if n.ID != -1 {
			estCard = humanCount(float64(e.Cardinality))
		}
		estMem = humanBytes(float64(e.MemoryUsed))
	}
	detail := "None"
	if n.HasDetail {
		detail = n.Detail
	}
	*out = append(*out, []string{prefix + n.Label, pyOptInt(n.Hosts, n.Hosts >= 0), strconv.Itoa(len(n.Instances)),
		avg, humanTime(float64(maxLatency)), card, estCard, humanBytes(float64(maxMem)), estMem, detail})
	if sender, isExchange := s.ExchangeSenders[idx]; isExchange {
		summaryNode(s, sender, indent+n.Children, n.Children > 0, out, seen)
	}
	idx++
	if n.Children > 0 {
		var first [][]string
		idx = summaryNode(s, idx, indent, false, &first, seen)
		for i := 1; i < n.Children; i++ {
			idx = summaryNode(s, idx, indent+1, true, out, seen)
		}
		*out = append(*out, first...)
	}
	return idx
}
