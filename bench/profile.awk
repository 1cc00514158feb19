# Summarises `perf script -F comm,tid,ip,sym,dso` (with call chains) for one
# command: where its CPU time goes.
#
#   awk -v top=25 -f bench/profile.awk
#
# Prints, as % of the command's samples:
#   - by component: a sample whose top frame is in the kernel counts as
#     "kernel, called from X", X the first library up the stack that is not
#     libc; any other sample counts for the first frame that is not in libc
#     or the dynamic loader (so malloc called by jansson is jansson's);
#   - self: the top frame's symbol;
#   - inclusive: every symbol on the stack, once per sample.
function short(d) {
	sub(/^.*\//, "", d)
	sub(/\.so[.0-9]*$/, "", d)
	sub(/-[0-9][.0-9]*$/, "", d)
	return d
}
function label(d) {
	if (d == "libevent" || d == "libevent_pthreads") return "libevent (HTTP parsing, event loop)"
	if (d == "libjansson") return "jansson (JSON)"
	if (d == "libpq") return "libpq"
	if (d == "libcrypto") return "libcrypto (token SHA-256)"
	if (d == "coolingd") return "coolingd's own code"
	if (d == "[vdso]") return "vdso (clock_gettime)"
	return d
}
function is_libc(d) { return d == "libc" || d == "ld-linux-x86" || d == "ld-linux-x86-64" || d == "[unknown]" }
function flush(   i, d, top, seen, k, caller) {
	if (nf == 0) return
	n++
	top = short(dso[1])
	self[sym[1] "  [" top "]"]++
	if (top == "[kernel.kallsyms]") {
		caller = "libc"
		for (i = 2; i <= nf; i++) {
			d = short(dso[i])
			if (d != "[kernel.kallsyms]" && !is_libc(d)) { caller = label(d); break }
		}
		comp["kernel (syscalls), called from " caller]++
	} else {
		k = "libc, called from nowhere known"
		for (i = 1; i <= nf; i++) {
			d = short(dso[i])
			if (!is_libc(d)) { k = label(d); break }
		}
		comp[k]++
	}
	delete seen
	for (i = 1; i <= nf; i++) {
		if (sym[i] == "[unknown]" || sym[i] in seen) continue
		seen[sym[i]] = 1
		incl[sym[i]]++
	}
	nf = 0
}
function report(title, arr,   k, m, i, j, keys, tmp) {
	m = 0
	for (k in arr) keys[++m] = k
	# insertion sort by count, descending (arrays are small)
	for (i = 2; i <= m; i++) {
		tmp = keys[i]
		for (j = i - 1; j >= 1 && arr[keys[j]] < arr[tmp]; j--) keys[j + 1] = keys[j]
		keys[j + 1] = tmp
	}
	printf "\n%s\n", title
	for (i = 1; i <= m && i <= top; i++)
		printf "  %6.2f%%  %s\n", 100 * arr[keys[i]] / n, keys[i]
}
BEGIN { if (top == "") top = 25 }
/^[^ \t]/ { flush(); next }
/^[ \t]*$/ { flush(); next }
{
	line = $0
	sub(/^[ \t]+/, "", line)
	addr = line; sub(/ .*$/, "", addr)
	rest = substr(line, length(addr) + 2)
	d = rest
	if (match(rest, / \([^()]*\)$/)) {
		d = substr(rest, RSTART + 2, RLENGTH - 3)
		s = substr(rest, 1, RSTART - 1)
	} else {
		d = "[unknown]"
		s = rest
	}
	sub(/\+0x[0-9a-f]+$/, "", s)
	if (s == "") s = "[unknown]"
	nf++
	sym[nf] = s
	dso[nf] = d
}
END {
	flush()
	printf "%d samples\n", n
	report("by component", comp)
	report("self (top of the stack)", self)
	report("inclusive (anywhere on the stack)", incl)
}
