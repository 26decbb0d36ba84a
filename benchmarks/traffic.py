"""Synthetic network-connection records in the KDD Cup 99 schema: 41 features, three of them text.

The generator draws each record from one traffic *profile*: a protocol, a service, a
connection-status flag and distributions for the 38 other fields. Normal traffic mixes
the everyday services (web, mail, file transfer, name lookups, pings) with the field
patterns such connections show in the KDD data: mostly flag SF, bytes log-normal by
service, logged_in for interactive services, host-based rates near 0 or 1. Attacks are
the four KDD families, each with the signature the KDD task description gives it:

- neptune (denial of service, SYN flood): tcp to many `private` ports, flag S0, no
  bytes, hundreds of connections in two seconds, SYN-error rates near 1;
- smurf (denial of service, ICMP echo flood): icmp `ecr_i`, 520 or 1032 bytes, count
  and srv_count at the 511 ceiling, same_srv_rate 1;
- portsweep (probe): tcp, many services, flag REJ or RSTO, REJ-error rates near 1,
  diff_srv_rate high, long durations between probes;
- guess_passwd (remote to local): tcp `telnet` with failed logins, small byte counts,
  not logged in; buffer_overflow (user to root): telnet/ftp sessions with root_shell,
  file creations, hot indicators and long durations.

Everything is seeded: `make_records(count, attack_fraction, seed)` gives the same
table for the same arguments. The table is raw, as a packet summariser would write it:
text columns stay text.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

COLUMNS = [
    "duration", "protocol_type", "service", "flag", "src_bytes", "dst_bytes", "land", "wrong_fragment", "urgent",
    "hot", "num_failed_logins", "logged_in", "num_compromised", "root_shell", "su_attempted", "num_root",
    "num_file_creations", "num_shells", "num_access_files", "num_outbound_cmds", "is_host_login", "is_guest_login",
    "count", "srv_count", "serror_rate", "srv_serror_rate", "rerror_rate", "srv_rerror_rate", "same_srv_rate",
    "diff_srv_rate", "srv_diff_host_rate", "dst_host_count", "dst_host_srv_count", "dst_host_same_srv_rate",
    "dst_host_diff_srv_rate", "dst_host_same_src_port_rate", "dst_host_srv_diff_host_rate", "dst_host_serror_rate",
    "dst_host_srv_serror_rate", "dst_host_rerror_rate", "dst_host_srv_rerror_rate",
]
TEXT_COLUMNS = ["protocol_type", "service", "flag"]

# normal services: (protocol, service, share, log-mean of src_bytes, of dst_bytes, interactive)
NORMAL_SERVICES = [
    ("tcp", "http", 0.52, 5.5, 8.0, True), ("tcp", "smtp", 0.10, 7.0, 5.8, True),
    ("tcp", "ftp_data", 0.08, 7.5, 2.0, False), ("tcp", "ftp", 0.03, 5.0, 6.0, True),
    ("tcp", "telnet", 0.02, 5.2, 7.0, True), ("tcp", "auth", 0.02, 3.5, 3.5, False),
    ("udp", "domain_u", 0.10, 3.8, 4.5, False), ("udp", "private", 0.06, 4.5, 4.5, False),
    ("udp", "ntp_u", 0.02, 3.9, 3.9, False), ("icmp", "ecr_i", 0.03, 3.5, 0.0, False),
    ("icmp", "eco_i", 0.02, 2.5, 0.0, False),
]
ATTACKS = {"neptune": 0.40, "smurf": 0.25, "portsweep": 0.15, "guess_passwd": 0.12, "buffer_overflow": 0.08}
PROBE_SERVICES = ["private", "http", "telnet", "ftp", "smtp", "finger", "domain", "sunrpc", "imap4", "pop_3", "ssh"]


def make_records(count: int, attack_fraction: float, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """`count` records, about `attack_fraction` of them attacks: (table, is_attack 0/1, family name per row)."""
    rng = np.random.default_rng(seed)
    attacks = int(round(count * attack_fraction))
    families = rng.choice(list(ATTACKS), size=attacks, p=list(ATTACKS.values()))
    parts = [_normal(count - attacks, rng)] + [_attack(name, int((families == name).sum()), rng) for name in ATTACKS]
    table = pd.concat([p for p in parts if len(p)], ignore_index=True)
    labels = np.array(["normal"] * (count - attacks) + [n for n in ATTACKS for _ in range(int((families == n).sum()))])
    order = rng.permutation(len(table))
    table, labels = table.iloc[order].reset_index(drop=True), labels[order]
    return table[COLUMNS], (labels != "normal").astype(int), labels


def _blank(count: int) -> dict:
    return {name: np.zeros(count) for name in COLUMNS if name not in TEXT_COLUMNS}


def _rate(rng, count, centre, spread=0.05):
    return np.clip(rng.normal(centre, spread, count), 0, 1).round(2)


def _normal(count: int, rng) -> pd.DataFrame:
    shares = np.array([s[2] for s in NORMAL_SERVICES])
    which = rng.choice(len(NORMAL_SERVICES), size=count, p=shares / shares.sum())
    protocol = np.array([NORMAL_SERVICES[i][0] for i in which], dtype=object)
    service = np.array([NORMAL_SERVICES[i][1] for i in which], dtype=object)
    src_mean = np.array([NORMAL_SERVICES[i][3] for i in which])
    dst_mean = np.array([NORMAL_SERVICES[i][4] for i in which])
    interactive = np.array([NORMAL_SERVICES[i][5] for i in which])
    tcp = protocol == "tcp"
    f = _blank(count)
    f["duration"] = np.where(tcp & (rng.random(count) < 0.15), rng.exponential(30, count), 0).round()
    f["src_bytes"] = np.where(src_mean > 0, rng.lognormal(src_mean, 0.7, count), 0).round()
    f["dst_bytes"] = np.where(dst_mean > 0, rng.lognormal(dst_mean, 1.0, count), 0).round()
    f["logged_in"] = (interactive & (rng.random(count) < 0.97)).astype(float)
    f["hot"] = np.where(interactive & (rng.random(count) < 0.05), rng.integers(1, 4, count), 0)
    f["num_compromised"] = np.where(rng.random(count) < 0.005, 1, 0)
    f["num_file_creations"] = np.where(interactive & (rng.random(count) < 0.01), 1, 0)
    f["num_access_files"] = np.where(interactive & (rng.random(count) < 0.01), 1, 0)
    f["is_guest_login"] = ((service == "ftp") & (rng.random(count) < 0.1)).astype(float)
    f["count"] = rng.poisson(np.where(protocol == "udp", 60, 8), count) + 1
    f["srv_count"] = np.minimum(f["count"], rng.poisson(np.where(protocol == "udp", 60, 10), count) + 1)
    f["serror_rate"] = np.where(rng.random(count) < 0.03, _rate(rng, count, 0.3, 0.2), 0.0)
    f["srv_serror_rate"] = f["serror_rate"]
    f["rerror_rate"] = np.where(rng.random(count) < 0.05, _rate(rng, count, 0.2, 0.2), 0.0)
    f["srv_rerror_rate"] = f["rerror_rate"]
    f["same_srv_rate"] = _rate(rng, count, 0.97, 0.06)
    f["diff_srv_rate"] = (1 - f["same_srv_rate"]).clip(0, 1).round(2)
    f["srv_diff_host_rate"] = np.where(rng.random(count) < 0.3, _rate(rng, count, 0.15, 0.1), 0.0)
    f["dst_host_count"] = np.minimum(255, rng.integers(1, 256, count))
    f["dst_host_srv_count"] = np.minimum(255, np.maximum(1, (f["dst_host_count"] * rng.uniform(0.6, 1, count)).round()))
    f["dst_host_same_srv_rate"] = _rate(rng, count, 0.9, 0.12)
    f["dst_host_diff_srv_rate"] = _rate(rng, count, 0.03, 0.03)
    f["dst_host_same_src_port_rate"] = _rate(rng, count, 0.1, 0.15)
    f["dst_host_srv_diff_host_rate"] = _rate(rng, count, 0.03, 0.04)
    f["dst_host_serror_rate"] = np.where(rng.random(count) < 0.05, _rate(rng, count, 0.2, 0.2), 0.0)
    f["dst_host_srv_serror_rate"] = f["dst_host_serror_rate"]
    f["dst_host_rerror_rate"] = np.where(rng.random(count) < 0.06, _rate(rng, count, 0.2, 0.2), 0.0)
    f["dst_host_srv_rerror_rate"] = f["dst_host_rerror_rate"]
    flag = np.where(tcp, rng.choice(["SF", "S0", "REJ", "RSTO", "S1"], count, p=[0.95, 0.01, 0.02, 0.01, 0.01]), "SF")
    return pd.DataFrame({**f, "protocol_type": protocol, "service": service, "flag": flag.astype(object)})


def _attack(name: str, count: int, rng) -> pd.DataFrame:
    if count == 0:
        return pd.DataFrame(columns=COLUMNS)
    f = _blank(count)
    if name == "neptune":
        protocol, service = "tcp", rng.choice(["private", "private", "private", "telnet", "http", "ftp_data"], count)
        flag = rng.choice(["S0", "S0", "S0", "REJ"], count)
        f["count"] = rng.integers(100, 512, count)
        f["srv_count"] = rng.integers(1, 25, count)
        f["serror_rate"] = f["srv_serror_rate"] = np.where(flag == "S0", _rate(rng, count, 1.0, 0.02), 0.0)
        f["rerror_rate"] = f["srv_rerror_rate"] = np.where(flag == "REJ", _rate(rng, count, 1.0, 0.02), 0.0)
        f["same_srv_rate"] = _rate(rng, count, 0.05, 0.04)
        f["diff_srv_rate"] = _rate(rng, count, 0.07, 0.03)
        f["dst_host_count"] = np.full(count, 255)
        f["dst_host_srv_count"] = rng.integers(1, 25, count)
        f["dst_host_same_srv_rate"] = _rate(rng, count, 0.05, 0.04)
        f["dst_host_diff_srv_rate"] = _rate(rng, count, 0.07, 0.03)
        f["dst_host_serror_rate"] = f["dst_host_srv_serror_rate"] = f["serror_rate"]
        f["dst_host_rerror_rate"] = f["dst_host_srv_rerror_rate"] = f["rerror_rate"]
    elif name == "smurf":
        protocol, service, flag = "icmp", np.full(count, "ecr_i"), np.full(count, "SF")
        f["src_bytes"] = rng.choice([520.0, 1032.0], count)
        f["count"] = f["srv_count"] = np.full(count, 511)
        f["same_srv_rate"] = np.ones(count)
        f["dst_host_count"] = f["dst_host_srv_count"] = np.full(count, 255)
        f["dst_host_same_srv_rate"] = np.ones(count)
        f["dst_host_same_src_port_rate"] = _rate(rng, count, 1.0, 0.02)
    elif name == "portsweep":
        protocol, service = "tcp", rng.choice(PROBE_SERVICES, count)
        flag = rng.choice(["REJ", "RSTO", "RSTR"], count)
        f["duration"] = np.where(rng.random(count) < 0.3, rng.integers(1, 30000, count), 0)
        f["count"] = rng.integers(1, 4, count)
        f["srv_count"] = rng.integers(1, 4, count)
        f["rerror_rate"] = f["srv_rerror_rate"] = _rate(rng, count, 0.9, 0.1)
        f["same_srv_rate"] = _rate(rng, count, 0.5, 0.3)
        f["diff_srv_rate"] = _rate(rng, count, 0.5, 0.3)
        f["dst_host_count"] = rng.integers(1, 60, count)
        f["dst_host_srv_count"] = rng.integers(1, 5, count)
        f["dst_host_same_srv_rate"] = _rate(rng, count, 0.1, 0.1)
        f["dst_host_diff_srv_rate"] = _rate(rng, count, 0.8, 0.15)
        f["dst_host_same_src_port_rate"] = _rate(rng, count, 0.9, 0.1)
        f["dst_host_rerror_rate"] = f["dst_host_srv_rerror_rate"] = _rate(rng, count, 0.9, 0.1)
    elif name == "guess_passwd":
        protocol, service, flag = "tcp", np.full(count, "telnet"), rng.choice(["SF", "RSTO"], count, p=[0.8, 0.2])
        f["duration"] = rng.integers(1, 6, count)
        f["src_bytes"] = rng.integers(100, 140, count)
        f["dst_bytes"] = rng.integers(150, 200, count)
        f["num_failed_logins"] = np.ones(count)
        f["count"] = f["srv_count"] = rng.integers(1, 3, count)
        f["same_srv_rate"] = np.ones(count)
        f["dst_host_count"] = rng.integers(1, 20, count)
        f["dst_host_srv_count"] = rng.integers(1, 20, count)
        f["dst_host_same_srv_rate"] = _rate(rng, count, 0.9, 0.1)
        f["dst_host_same_src_port_rate"] = _rate(rng, count, 0.3, 0.2)
        f["dst_host_rerror_rate"] = f["dst_host_srv_rerror_rate"] = np.where(flag == "RSTO", 0.5, 0.0)
    else:  # buffer_overflow
        protocol, service, flag = "tcp", rng.choice(["telnet", "ftp_data", "ftp"], count), np.full(count, "SF")
        f["duration"] = rng.integers(20, 300, count)
        f["src_bytes"] = rng.lognormal(7.5, 0.8, count).round()
        f["dst_bytes"] = rng.lognormal(8.0, 0.8, count).round()
        f["hot"] = rng.integers(1, 6, count)
        f["logged_in"] = np.ones(count)
        f["num_compromised"] = rng.integers(0, 3, count)
        f["root_shell"] = np.ones(count)
        f["num_root"] = rng.integers(0, 5, count)
        f["num_file_creations"] = rng.integers(1, 5, count)
        f["num_shells"] = rng.integers(0, 2, count)
        f["count"] = f["srv_count"] = rng.integers(1, 3, count)
        f["same_srv_rate"] = np.ones(count)
        f["dst_host_count"] = rng.integers(1, 50, count)
        f["dst_host_srv_count"] = rng.integers(1, 50, count)
        f["dst_host_same_srv_rate"] = _rate(rng, count, 0.6, 0.3)
        f["dst_host_same_src_port_rate"] = _rate(rng, count, 0.2, 0.2)
    return pd.DataFrame({**f, "protocol_type": np.full(count, protocol, dtype=object),
                         "service": np.asarray(service, dtype=object), "flag": np.asarray(flag, dtype=object)})
