# harness/peers.sh's summary: reads peers.csv, writes summary.csv (the file
# named by `summary`) and prints the table, the ratios against their goals
# and the checks that ratios.txt keeps. Each server's figure is its best
# round: the highest peak and the lowest CPU per request (among the rounds
# that kept up with the rate), since whatever else runs on a shared machine
# can only slow a server down.
# vars: summary, servers (names in order), rate, depth, conns, rounds, smoke

NR > 1 {
    k = $2
    if ($3 == "peak" && (!(k in peak) || $4 > peak[k])) {
        peak[k] = $4; peak_sus[k] = $6; peak_lus[k] = $7; peak_sutil[k] = $8; peak_lutil[k] = $9
    }
    if ($3 == "peak" && (!(k in peak_low) || $4 < peak_low[k]))
        peak_low[k] = $4
    # A round that fell behind the rate is taken only when every round did.
    ok = $4 >= 0.97 * rate
    if ($3 == "cpu" && (!(k in cpu) || ok > cpu_ok[k] || (ok == cpu_ok[k] && $6 < cpu[k]))) {
        cpu[k] = $6; cpu_rps[k] = $4; cpu_lus[k] = $7; cpu_ok[k] = ok
    }
    if ($3 == "cpu" && (!(k in cpu_high) || $6 > cpu_high[k]))
        cpu_high[k] = $6
}

function ratio(label, a, b, goal, above,   r, met) {
    if (b == 0 || a == "" || b == "") {
        printf "  %-40s %8s\n", label, "n/a"
        return
    }
    r = a / b
    met = above ? r >= goal : r <= goal
    printf "  %-40s %8.3f   %s %.2f   %s\n", label, r, above ? ">=" : "<=", goal, met ? "met" : "NOT met"
}

END {
    n = split(servers, s, " ")
    print "server,peak_rps,peak_rps_lowest,peak_server_us_per_request,peak_server_cpu_util," \
          "peak_load_us_per_request,peak_load_cpu_util,server_us_per_request," \
          "server_us_per_request_highest,open_loop_rps,open_loop_load_us_per_request" > summary
    printf "/plaintext, server on one CPU, load on the other; each figure the best of %d rounds\n", rounds
    printf "peak: wrk -t1 -c%d, %d requests per write; cpu: overlap load, open loop %d req/s, %d clients\n\n",
           conns, depth, rate, conns
    printf "  %-13s %10s %9s %9s %9s %9s   %10s %10s\n", "", "peak", "server", "server", "wrk",
           "wrk", "server", "served"
    printf "  %-13s %10s %9s %9s %9s %9s   %10s %10s\n", "server", "req/s", "us/req", "CPU",
           "us/req", "CPU", "us/req", "req/s"
    for (i = 1; i <= n; i++) {
        k = s[i]
        printf "%s,%.0f,%.0f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.0f,%.3f\n", k, peak[k], peak_low[k],
               peak_sus[k], peak_sutil[k], peak_lus[k], peak_lutil[k], cpu[k], cpu_high[k],
               cpu_rps[k], cpu_lus[k] > summary
        printf "  %-13s %10.0f %9.3f %8.0f%% %9.3f %8.0f%%   %10.3f %10.0f\n", k, peak[k], peak_sus[k],
               100 * peak_sutil[k], peak_lus[k], 100 * peak_lutil[k], cpu[k], cpu_rps[k]
    }
    printf "\n  (peak: server and wrk CPU per request and share of their core in the best round;\n"
    printf "   the last two columns: the open-loop run with the lowest server CPU per request)\n\n"
    printf "  %-40s %8s   %-7s  %s\n", "ratio", "value", "goal", ""
    ratio("async peak / floor peak", peak["async"], peak["floor"], 0.95, 1)
    ratio("async CPU/req / floor CPU/req", cpu["async"], cpu["floor"], 1.10, 0)
    for (i = 1; i <= n; i++) {
        if (s[i] ~ /^coro/)
            ratio(s[i] " CPU/req / async CPU/req", cpu[s[i]], cpu["async"], 1.3, 0)
        if (s[i] !~ /^pool/)
            continue
        ratio(s[i] " CPU/req / async CPU/req", cpu[s[i]], cpu["async"], 1.3, 0)
        ratio(s[i] " peak / async peak", peak[s[i]], peak["async"], 0.5, 1)
    }
    printf "  %-40s %8.3f   (no goal: a reference)\n", "nginx peak / floor peak", peak["nginx"] / peak["floor"]
    printf "  %-40s %8.3f   (no goal: a reference)\n", "nginx CPU/req / floor CPU/req", cpu["nginx"] / cpu["floor"]

    print "\nchecks:"
    print "  " smoke
    flags = 0
    for (i = 1; i <= n; i++) {
        k = s[i]
        # A peak at the floor's while wrk's core is full is the tool's rate.
        if (peak[k] >= 0.95 * peak["floor"] && peak_lutil[k] >= 0.95) {
            printf "  FLAG %s: peak %.0f is within 5%% of the floor's %.0f with wrk at %.0f%% of its core: the load tool's figure, not the server's\n",
                   k, peak[k], peak["floor"], 100 * peak_lutil[k]
            flags++
        }
        # CPU per request compares the same work only at the same rate, below
        # capacity (a server behind the rate batches more per system call).
        if (!cpu_ok[k]) {
            printf "  FLAG %s: served %.0f of the %d req/s offered in the round taken; every round fell behind (the server, the load tool or the machine), so its CPU per request is not at the common rate\n",
                   k, cpu_rps[k], rate
            flags++
        }
    }
    if (!flags)
        print "  no peak is the load tool's, and every server kept up with the open-loop rate"
}
