module overlap-go

go 1.19

require github.com/lib/pq v1.10.7

// The driver is Debian's package golang-github-lib-pq-dev, built from its
// source where Debian installs it: no module proxy is asked.
replace github.com/lib/pq => /usr/share/gocode/src/github.com/lib/pq
