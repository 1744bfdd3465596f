package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ffmpegAnchor measures the anchor the issue compares with, in the same
// run: n streams of the same RTP (same sender, one port per stream), each
// recorded by its own `ffmpeg -c copy` into an Ogg file for dur. It prints
//
//	anchor=ffmpeg streams=N seconds=D cpu_core_per_stream=F streams_per_core=S rss_kib_per_stream=K pss_kib_per_stream=P
//
// where the CPU is each ffmpeg's user+system time from start to exit
// (startup included, as /usr/bin/time reports it), the RSS its peak and
// the PSS (its share of the pages it maps with the others) read halfway.
func ffmpegAnchor(n int, dur time.Duration, args []string) error {
	bin, err := exec.LookPath("ffmpeg")
	if err != nil {
		return fmt.Errorf("anchor: %w", err)
	}
	dir, err := os.MkdirTemp("", "loadtest-ffmpeg-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// Ports: taken from the kernel, released for ffmpeg to bind.
	ports := make([]int, n)
	for i := range ports {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return err
		}
		ports[i] = c.LocalAddr().(*net.UDPAddr).Port
		c.Close()
	}
	cmds := make([]*exec.Cmd, n)
	for i, port := range ports {
		sdp := filepath.Join(dir, fmt.Sprintf("leg-%d.sdp", i))
		text := fmt.Sprintf("v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=leg %d\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %d RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\n", i, port)
		if err := os.WriteFile(sdp, []byte(text), 0o600); err != nil {
			return err
		}
		cmd := exec.Command(bin, "-nostdin", "-loglevel", "warning", "-protocol_whitelist", "file,udp,rtp",
			"-i", sdp, "-c", "copy", "-f", "ogg", "-y", filepath.Join(dir, fmt.Sprintf("leg-%d.ogg", i)))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("anchor: %w", err)
		}
		cmds[i] = cmd
	}
	defer func() {
		for _, c := range cmds {
			if c.ProcessState == nil {
				_ = c.Process.Kill()
				_ = c.Wait()
			}
		}
	}()
	// Give every ffmpeg time to open its socket (its probe then waits for
	// packets), then send.
	time.Sleep(2 * time.Second)
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cargs := append([]string{}, args...)
	cargs = append(cargs, "-role", "send", "-legs", strconv.Itoa(n), "-dur", dur.String(), "-dest", "", "-gso=false", "-stall", "0", "-loss", "0", "-reorder", "0")
	snd := exec.Command(exe, cargs...)
	snd.Stderr = os.Stderr
	var b strings.Builder
	for _, p := range ports {
		fmt.Fprintln(&b, p)
	}
	snd.Stdin = strings.NewReader(b.String())
	t0 := time.Now()
	if err := snd.Start(); err != nil {
		return err
	}
	time.Sleep(dur / 2)
	var pss int64
	for _, c := range cmds {
		pss += smapsRollup(c.Process.Pid, "Pss:")
	}
	if err := snd.Wait(); err != nil {
		return fmt.Errorf("anchor: sender: %w", err)
	}
	secs := time.Since(t0).Seconds()
	var cpu time.Duration
	var rss int64
	for _, c := range cmds {
		_ = c.Process.Signal(os.Interrupt) // ffmpeg finishes its file
		// Interrupted (or timed out once the packets stopped), ffmpeg
		// exits 255: what counts is that it wrote its file.
		if err := c.Wait(); c.ProcessState == nil {
			return fmt.Errorf("anchor: ffmpeg: %w", err)
		}
		if ru, ok := c.ProcessState.SysUsage().(*syscall.Rusage); ok {
			cpu += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
			rss += ru.Maxrss
		}
	}
	var size int64
	for i := range cmds {
		fi, err := os.Stat(filepath.Join(dir, fmt.Sprintf("leg-%d.ogg", i)))
		if err != nil || fi.Size() == 0 {
			return fmt.Errorf("anchor: ffmpeg %d wrote no file (%v)", i, err)
		}
		size += fi.Size()
	}
	fmt.Fprintf(os.Stderr, "anchor: %d ffmpeg wrote %d bytes of Ogg\n", n, size)
	per := cpu.Seconds() / secs / float64(n)
	fmt.Printf("anchor=ffmpeg streams=%d seconds=%.1f cpu_core_per_stream=%.5f streams_per_core=%.0f rss_kib_per_stream=%d pss_kib_per_stream=%d\n",
		n, secs, per, 1/per, rss/int64(n), pss/int64(n))
	return nil
}

// smapsRollup returns a field of /proc/PID/smaps_rollup in KiB, or 0.
func smapsRollup(pid int, field string) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field {
			v, _ := strconv.ParseInt(f[1], 10, 64)
			return v
		}
	}
	return 0
}
