package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
)

// What the memory rows read of this process and its children, from /proc.
//
// Resident memory is counted as PSS (proportional set size: a page shared
// by k processes counts 1/k in each), so that the pages a thousand copies
// of one executable share are counted once in all, and the sum over the
// host and its children is what they take of the machine's memory.

// memSnapshot is the memory of this process and its descendants at one
// moment, after a garbage collection.
type memSnapshot struct {
	heap  uint64 // the Go heap's live bytes (HeapAlloc after runtime.GC)
	host  uint64 // this process's PSS, bytes
	child uint64 // the PSS of every descendant process, bytes
	procs int    // how many descendant processes there are
	pss   map[int]uint64
}

// since returns how many of s's descendant processes were not in before,
// and their PSS: the processes made in between. Processes that were
// there before, and run on, are not counted: their memory moves by
// itself (a Go plugin process's collector, pages shared with processes
// that come and go), and is not what was made.
func (s memSnapshot) since(before memSnapshot) (procs int, pss uint64) {
	for pid, p := range s.pss {
		if _, old := before.pss[pid]; !old {
			procs++
			pss += p
		}
	}
	return procs, pss
}

// snapshot collects garbage and returns what is free to the system
// (debug.FreeOSMemory), so that the resident set holds what is live, then
// reads the heap, this process's PSS and its descendants'. A heap that
// freed earlier samples' instances would otherwise reuse their pages, and
// the growth the next sample's instances cause would not show.
func snapshot() (memSnapshot, error) {
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s := memSnapshot{heap: ms.HeapAlloc, pss: map[int]uint64{}}
	var err error
	if s.host, err = pss(os.Getpid()); err != nil {
		return s, err
	}
	kids, err := descendants(os.Getpid())
	if err != nil {
		return s, err
	}
	for _, pid := range kids {
		p, err := pss(pid)
		if errors.Is(err, os.ErrNotExist) {
			continue // exited since the scan: it holds nothing now
		}
		if err != nil {
			return s, err
		}
		s.child += p
		s.procs++
		s.pss[pid] = p
	}
	return s, nil
}

// pss returns pid's proportional set size in bytes, from
// /proc/PID/smaps_rollup.
func pss(pid int) (uint64, error) {
	return procField(fmt.Sprintf("/proc/%d/smaps_rollup", pid), "Pss:")
}

// procField returns a "Key:   N kB" line's value from a /proc file, in bytes.
func procField(path, key string) (uint64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", path, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, key) {
			continue
		}
		f := strings.Fields(line[len(key):])
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("%s: unexpected line %q", path, line)
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %q: %w", path, line, err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("%s: no %s line", path, strings.TrimSuffix(key, ":"))
}

// descendants returns the pids of every process below root (children,
// their children…), from each /proc/PID/stat's parent pid.
func descendants(root int) ([]int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("listing /proc: %w", err)
	}
	children := map[int][]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // exited since the listing
		}
		// "pid (comm) state ppid …": comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(data, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(data[i+1:]))
		if len(f) < 2 {
			continue
		}
		if f[0] == "Z" {
			continue // a zombie holds no memory
		}
		ppid, err := strconv.Atoi(f[1])
		if err != nil {
			continue
		}
		children[ppid] = append(children[ppid], pid)
	}
	var out []int
	queue := []int{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out, nil
}

// peakMeter measures the peak resident growth of one operation: this
// process's high-water mark (VmHWM, reset through /proc/self/clear_refs)
// above its resident set before, plus the high-water marks of the
// descendant processes the operation started.
type peakMeter struct {
	rss    uint64
	before map[int]bool
}

// startPeak resets this process's high-water mark and notes what exists.
func startPeak() (*peakMeter, error) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return nil, fmt.Errorf("resetting the resident high-water mark: %w", err)
	}
	rss, err := procField("/proc/self/status", "VmRSS:")
	if err != nil {
		return nil, err
	}
	kids, err := descendants(os.Getpid())
	if err != nil {
		return nil, err
	}
	m := &peakMeter{rss: rss, before: map[int]bool{}}
	for _, k := range kids {
		m.before[k] = true
	}
	return m, nil
}

// peak returns the bytes the operation since startPeak took at its peak.
func (m *peakMeter) peak() (uint64, error) {
	hwm, err := procField("/proc/self/status", "VmHWM:")
	if err != nil {
		return 0, err
	}
	var p uint64
	if hwm > m.rss {
		p = hwm - m.rss
	}
	kids, err := descendants(os.Getpid())
	if err != nil {
		return 0, err
	}
	for _, k := range kids {
		if m.before[k] {
			continue
		}
		h, err := procField(fmt.Sprintf("/proc/%d/status", k), "VmHWM:")
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, err
		}
		p += h
	}
	return p, nil
}
