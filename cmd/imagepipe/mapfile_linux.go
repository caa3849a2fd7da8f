package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// mapMin is the smallest file that mapFile maps; smaller ones are read.
const mapMin = 64 << 10

// mapFile returns the bytes of the file at path and a function that
// releases them. A regular file of mapMin bytes or more is mapped
// read-only with its pages populated in one call: the bytes are the page
// cache's, not copied into fresh memory page by page (a 3 MB photo: 750
// page faults and a copy less, about 2 ms of CPU). A mapping follows the
// file: reading past its end after it was truncated faults, which
// processMapped turns into an error. Anything else is read.
func mapFile(path string) ([]byte, func(), error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if st.Mode().IsRegular() && st.Size() >= mapMin && st.Size() == int64(int(st.Size())) {
		data, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED|unix.MAP_POPULATE)
		if err == nil {
			return data, func() { unix.Munmap(data) }, nil
		}
		// A file system that cannot map: read it.
	}
	data, err := os.ReadFile(path)
	return data, func() {}, err
}
