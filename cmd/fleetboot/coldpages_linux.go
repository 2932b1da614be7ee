package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// madvPageout (Linux 5.4) asks the kernel to reclaim a range now. For the
// executable's read-only mappings that only drops clean page-cache pages from
// this process: they are read back from the file if ever touched again.
const madvPageout = 21

// releaseColdCode hands the pages of this binary's code and read-only data back
// to the kernel. Once a gateway is online the code of first boot (TLS setup, X.509,
// configuration parsing, provisioning) is not run again, yet the kernel's
// fault-around keeps most of the binary resident. It returns the bytes advised.
func releaseColdCode() (int, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0, err
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	total := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// 00400000-00a4b000 r-xp 00000000 fd:01 123 /usr/bin/fleetboot
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[5] != exe || (fields[1] != "r-xp" && fields[1] != "r--p") {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, uintptr(start), uintptr(end-start), madvPageout); errno != 0 {
			return total, fmt.Errorf("madvise %s: %w", fields[0], errno)
		}
		total += int(end - start)
	}
	return total, sc.Err()
}
