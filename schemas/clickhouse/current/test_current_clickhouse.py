"""orderflow's ClickHouse SQL on a current ClickHouse.

The stack's server, on which every Go test runs, is Debian's ClickHouse
18.16; users run current releases. PyPI's chdb-core embeds a current
ClickHouse (26.9) in-process, and this test runs on it the SQL that Go
prints (go run ./schemas/clickhouse/current): every migration in order, as
worker/migrate runs it (a table rebuild's RENAME and INSERT, and ADD COLUMN
IF NOT EXISTS, its own way), then every sample query on the fixture the Go
test TestShippedQueriesRun uses, whose results must be the ones expected on
18.16, and the SQL of a retention pass and an offboarding as the purger ran
them on 18.16 (worker/retention/testdata/current/purge.json), which must keep
the same rows, and the SQL of a buyer's erasure as it ran on 18.16
(worker/retention/testdata/current/erase.json), which must leave the same rows. It proves SQL and semantics, not the Go driver (chdb has no
server).

Run by `make test-current` (part of `make test`) with the virtualenv
deploy/local/chdb.sh makes:
    "$(deploy/local/chdb.sh)" -m unittest discover -s schemas/clickhouse/current -v
"""

import datetime
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

from chdb import session as chdb_session

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
QUERIES_TESTDATA = os.path.join(HERE, "..", "testdata", "queries")
# A retention pass's SQL as the purger ran it on 18.16, with its orders and
# the rows it kept (worker/retention's TestThePurgersSQLIsRecordedForCurrentClickHouse).
PURGE_SQL = os.path.join(ROOT, "worker", "retention", "testdata", "current", "purge.json")
# A buyer's erasure as the purger ran it on 18.16, with the rows before and
# after (worker/retention's TestTheErasuresSQLIsRecordedForCurrentClickHouse).
ERASE_SQL = os.path.join(ROOT, "worker", "retention", "testdata", "current", "erase.json")
# order_facts' buyer token columns, in worker/buyer's order (TokenColumns).
TOKEN_COLUMNS = ["buyer_email_token", "buyer_phone_token", "buyer_name_token", "buyer_username_token", "buyer_user_id_token"]

# worker/migrate's patterns (rebuild.go, migrate.go), verbatim: the statements
# the migrator does not run as written.
SWAP = re.compile(r"(?is)^\s*RENAME\s+TABLE\s+(\w+)\.(\w+)\s+TO\s+(\w+)\.(\w+)\s*,\s*(\w+)\.(\w+)\s+TO\s+(\w+)\.(\w+)\s*$")
COPY = re.compile(r"(?is)^\s*INSERT\s+INTO\s+(\w+)\.(\w+)\s+SELECT\s+\*\s+FROM\s+(\w+)\.(\w+)\s*$")
RENAME_OR_INSERT = re.compile(r"(?is)^\s*(RENAME|INSERT)\b")
ADD_COLUMN_IF_NOT_EXISTS = re.compile(
    r"(?is)^\s*ALTER\s+TABLE\s+([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)\s+ADD\s+COLUMN\s+(IF\s+NOT\s+EXISTS\s+)([A-Za-z0-9_]+)\s")


def printed(database, restricted):
    """What Go prints for the database names: migrations, queries, tables."""
    out = subprocess.run(
        ["go", "run", "./schemas/clickhouse/current", "--database", database, "--restricted-database", restricted],
        cwd=ROOT, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def quote(s):
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Server:
    """One chdb session, in a directory of its own."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="orderflow-chdb-")
        self.session = chdb_session.Session(self.dir)
        self.statements = 0

    def close(self):
        self.session.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def exec(self, sql):
        self.statements += 1
        self.session.query(sql)

    def rows(self, sql):
        out = self.session.query(sql, "JSONEachRow").bytes().decode()
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def tsv(self, sql):
        # Raw: TabSeparated would escape a quote in a value as \', which the
        # Go test, reading through the native protocol, never sees.
        return self.session.query(sql, "TabSeparatedRawWithNames").bytes().decode()

    def one(self, sql):
        rows = self.rows(sql)
        return rows[0] if rows else None


class Migrator:
    """worker/migrate's Up on chdb: each statement as Migrator.exec runs it."""

    def __init__(self, server):
        self.s = server

    def up(self, migrations):
        for m in migrations:
            for i, stmt in enumerate(m["statements"]):
                try:
                    self.exec(stmt)
                except Exception as e:
                    raise AssertionError("%04d_%s statement %d: %s\n%s" % (m["version"], m["name"], i + 1, e, stmt)) from e

    def exec(self, stmt):
        s = SWAP.match(stmt)
        if s:
            return self.swap(stmt, *[s.group(i) + "." + s.group(i + 1) for i in (1, 3, 5, 7)])
        c = COPY.match(stmt)
        if c:
            return self.copy(c.group(1) + "." + c.group(2), c.group(3) + "." + c.group(4))
        if RENAME_OR_INSERT.match(stmt):
            raise AssertionError("a RENAME or INSERT the migrator refuses")
        a = ADD_COLUMN_IF_NOT_EXISTS.match(stmt)
        if not a:
            return self.s.exec(stmt)
        if self.column_exists(a.group(1), a.group(2), a.group(4)):
            return None
        return self.s.exec(stmt[:a.start(3)] + stmt[a.end(3):])

    def column_exists(self, db, table, column):
        return self.s.one("SELECT count() AS n FROM system.columns WHERE database = %s AND table = %s AND name = %s"
                          % (quote(db), quote(table), quote(column)))["n"] > 0

    def table(self, name, column):
        db, table = name.split(".")
        row = self.s.one("SELECT %s AS v FROM system.tables WHERE database = %s AND name = %s" % (column, quote(db), quote(table)))
        return None if row is None else row["v"]

    def swap(self, stmt, t, old, renamed, into):
        assert into == t, stmt
        new_engine = self.table(renamed, "engine_full")
        if new_engine is None:
            return
        engine = self.table(t, "engine_full")
        if engine is None:
            self.s.exec("RENAME TABLE %s TO %s" % (renamed, t))
        elif engine != new_engine:
            self.s.exec(stmt)

    def copy(self, t, source):
        key = self.table(source, "partition_key")
        if key is None:
            return
        db, table = t.split(".")
        cols = ", ".join(r["name"] for r in self.s.rows(
            "SELECT name FROM system.columns WHERE database = %s AND table = %s AND default_kind NOT IN ('MATERIALIZED', 'ALIAS')"
            % (quote(db), quote(table))))
        sdb, stable = source.split(".")
        for p in self.s.rows("SELECT DISTINCT partition, partition_id FROM system.parts WHERE database = %s AND table = %s AND active"
                             % (quote(sdb), quote(stable))):
            self.s.exec("INSERT INTO %s (%s) SELECT %s FROM %s WHERE %s = %s" % (t, cols, cols, source, key, p["partition"]))
            self.s.exec("ALTER TABLE %s DROP PARTITION ID %s" % (source, quote(p["partition_id"])))


def insert(server, table, rows):
    """One block insert naming the columns the rows give (JSONEachRow)."""
    cols = sorted({c for r in rows for c in r})
    body = "\n".join(json.dumps(r) for r in rows)
    server.exec("INSERT INTO %s (%s) FORMAT JSONEachRow\n%s" % (table, ", ".join("`%s`" % c for c in cols), body))


def financial_year(t):
    """The UK financial year a purchase falls in, named by the year it ends in."""
    return t.year + (1 if t.month >= 4 else 0)


class MigrationsTest(unittest.TestCase):
    def setUp(self):
        self.s = Server()
        self.addCleanup(self.s.close)
        self.p = printed("of_current", "of_current_restricted")
        self.rdb = self.p["restricted_database"]

    def partitions(self, table):
        return sorted({r["partition_id"] for r in self.s.rows(
            "SELECT partition_id FROM system.parts WHERE database = %s AND table = %s AND active" % (quote(self.rdb), quote(table)))})

    def test_every_migration_runs_and_0013_rebuilds_with_the_rows(self):
        migrations = self.p["migrations"]
        self.assertEqual([m["version"] for m in migrations], list(range(1, len(migrations) + 1)))
        migrator = Migrator(self.s)
        migrator.up(migrations[:12])
        # Rows written by a worker before 0013: two months, two UK financial
        # years (31 March and 1 April), two jurisdictions, and an order with two
        # snapshots.
        purchases = [
            ("L1", "GB", datetime.datetime(2025, 3, 31, 23, 59, 59)),
            ("L2", "GB", datetime.datetime(2025, 4, 1, 0, 0, 0)),
            ("L3", "DE", datetime.datetime(2025, 4, 20, 12, 0, 0)),
            ("L4", "GB", datetime.datetime(2025, 5, 2, 8, 30, 0)),
        ]
        fmt = "%Y-%m-%d %H:%M:%S"
        labels, records = [], []
        for oid, jurisdiction, at in purchases:
            for version in (1, 2) if oid == "L3" else (1,):
                labels.append({"tenant_id": "acme", "channel": "amazon", "channel_order_id": oid, "version": version,
                               "purchased_at": at.strftime(fmt), "ship_country": jurisdiction,
                               "label_ciphertext": "vault:v1:%s-%d" % (oid, version), "written_at": at.strftime(fmt)})
                records.append({"tenant_id": "acme", "channel": "amazon", "channel_order_id": oid, "version": version,
                                "jurisdiction": jurisdiction, "purchased_at": at.strftime(fmt), "status": "shipped",
                                "payment_status": "paid", "currency": "GBP", "total": "%d.50" % version,
                                "written_at": at.strftime(fmt)})
        # Each version in an insert of its own, as a worker's batches write
        # them: a current ClickHouse collapses the snapshots of one key
        # within one insert block (optimize_on_insert, which 18.16 lacks).
        for version in (1, 2):
            insert(self.s, self.rdb + ".delivery_labels", [r for r in labels if r["version"] == version])
            insert(self.s, self.rdb + ".financial_records", [r for r in records if r["version"] == version])
        self.assertEqual(self.partitions("delivery_labels"), sorted({at.strftime("%Y%m%d") for _, _, at in purchases}),
                         "before 0013, labels by day")
        self.assertEqual(self.s.one("SELECT count() AS n FROM %s.delivery_labels" % self.rdb)["n"], len(labels))

        migrator.up(migrations[12:])
        self.assertEqual(self.partitions("delivery_labels"), sorted({at.strftime("%Y%m") for _, _, at in purchases}),
                         "0013: labels by month")
        self.assertEqual(self.partitions("financial_records"), sorted({str(financial_year(at)) for _, _, at in purchases}),
                         "0013: financial records by financial year")
        self.assertEqual(
            self.s.rows("SELECT name FROM system.tables WHERE database = %s AND match(name, '_0013_(new|old)$')" % quote(self.rdb)),
            [], "the rebuild's spare tables are dropped")
        # The copy is INSERT ... SELECT of a partition: the snapshots of one key
        # in it reach the new table in one block, which a current ClickHouse
        # collapses (optimize_on_insert); 18.16 copies them all. Either way
        # no newest snapshot is lost and nothing is copied twice.
        want_labels = {(r["channel_order_id"], r["version"], r["purchased_at"], r["label_ciphertext"]) for r in labels}
        newest_labels = {r for r in want_labels if not (r[0] == "L3" and r[1] == 1)}
        got_labels = [(r["channel_order_id"], int(r["version"]), r["purchased_at"], r["label_ciphertext"]) for r in self.s.rows(
            "SELECT channel_order_id, version, toString(purchased_at) AS purchased_at, label_ciphertext FROM %s.delivery_labels"
            % self.rdb)]
        self.assertEqual(len(got_labels), len(set(got_labels)), "a label row copied twice")
        self.assertLessEqual(newest_labels, set(got_labels), "a label's newest snapshot lost in the rebuild")
        self.assertLessEqual(set(got_labels), want_labels)
        self.assertEqual(
            self.s.rows("SELECT channel_order_id, version FROM %s.delivery_labels FINAL WHERE channel_order_id = 'L3'" % self.rdb),
            [{"channel_order_id": "L3", "version": 2}], "FINAL reads the newest snapshot")
        got = self.s.rows("SELECT channel_order_id, toString(total) AS total, toString(last_financial_event_at) AS last "
                          "FROM %s.financial_records FINAL ORDER BY channel_order_id" % self.rdb)
        # 0008's default: the later of the purchase and the writing.
        self.assertEqual(got, [{"channel_order_id": oid, "total": "%d.5" % (2 if oid == "L3" else 1), "last": at.strftime(fmt)}
                               for oid, _, at in purchases], "the newest snapshot of each record, the default filled")

        # A second migrator, or one run again after a crash, runs every
        # statement again: each is a no-op, the rebuild's too.
        before = self.s.tsv("SELECT database, name, engine_full FROM system.tables WHERE database IN (%s, %s) ORDER BY database, name"
                            % (quote(self.p["database"]), quote(self.rdb)))
        migrator.up(migrations)
        after = self.s.tsv("SELECT database, name, engine_full FROM system.tables WHERE database IN (%s, %s) ORDER BY database, name"
                           % (quote(self.p["database"]), quote(self.rdb)))
        self.assertEqual(after, before, "a re-run changes the schema")
        self.assertEqual(self.s.one("SELECT count() AS n FROM %s.delivery_labels" % self.rdb)["n"], len(got_labels),
                         "a re-run copies rows again")


DAY_N = re.compile(r"\{day-(\d+)\}")


class QueriesTest(unittest.TestCase):
    """The sample queries on TestShippedQueriesRun's fixture, with its expected results."""

    @classmethod
    def setUpClass(cls):
        cls.s = Server()
        cls.p = printed("of_queries", "of_queries_restricted")
        Migrator(cls.s).up(cls.p["migrations"])
        with open(os.path.join(QUERIES_TESTDATA, "fixture.json")) as f:
            cls.fixture = {k: v for k, v in json.load(f).items() if k != "_comment"}
        # The fixture's {day-N} are days before the server's today, in its zone.
        for attempt in range(2):
            cls.today = cls.today_now()
            for table, rows in cls.fixture.items():
                cls.s.exec("TRUNCATE TABLE IF EXISTS %s.%s" % (cls.p["tables"][table], table))
                insert(cls.s, cls.p["tables"][table] + "." + table, [{c: cls.expand(v) for c, v in r.items()} for r in rows])
            cls.results = {q["name"]: cls.s.tsv(q["sql"]) for q in cls.p["queries"]}
            if cls.today_now() == cls.today:  # not straddling midnight
                break

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    @classmethod
    def today_now(cls):
        return datetime.date.fromisoformat(cls.s.one("SELECT toString(today()) AS d")["d"])

    @classmethod
    def expand(cls, v):
        if not isinstance(v, str):
            return v
        return DAY_N.sub(lambda m: (cls.today - datetime.timedelta(days=int(m.group(1)))).isoformat(), v)

    def test_every_query_gives_the_results_expected_on_18_16(self):
        queries = self.p["queries"]
        self.assertEqual(len(queries), len([f for f in os.listdir(QUERIES_TESTDATA) if f.endswith(".tsv")]))
        for q in queries:
            with self.subTest(query=q["name"]):
                with open(os.path.join(QUERIES_TESTDATA, q["name"] + ".tsv")) as f:
                    want = self.expand(f.read())
                got = self.results[q["name"]]
                if not re.search(r"(?i)\bORDER\s+BY\b", q["sql"]):
                    want, got = sorted_rows(want), sorted_rows(got)
                self.assertEqual(got, want)

    def test_final_reads_the_newest_snapshot_of_each_order(self):
        facts = self.fixture["order_facts"]
        newest = {}
        for r in facts:
            key = (r["tenant_id"], r["channel"], r["channel_order_id"])
            if key not in newest or r["version"] > newest[key]["version"]:
                newest[key] = r
        self.assertLess(len(newest), len(facts), "the fixture has a superseded snapshot")
        table = "%s.order_facts" % self.p["database"]
        got = {(r["tenant_id"], r["channel"], r["channel_order_id"]): (int(r["version"]), r["status"], r["total"])
               for r in self.s.rows("SELECT tenant_id, channel, channel_order_id, version, status, toString(total) AS total "
                                    "FROM %s FINAL" % table)}
        want = {k: (r["version"], r["status"], str(float(r["total"])).rstrip("0").rstrip(".")) for k, r in newest.items()}
        self.assertEqual(got, want)
        # Sums under FINAL count each order once.
        total = self.s.one("SELECT toString(sum(total)) AS t FROM %s FINAL WHERE currency = 'GBP'" % table)["t"]
        want_total = sum(float(r["total"]) for r in newest.values() if r["currency"] == "GBP")
        self.assertAlmostEqual(float(total), want_total)


class InsertBlockTest(unittest.TestCase):
    """Where a current ClickHouse differs from 18.16: snapshots of one key
    within one insert block are collapsed as the block is written
    (optimize_on_insert, on by default since ClickHouse 20.x), where 18.16
    stores them all until a merge. FINAL reads the same either way; a count
    without FINAL does not."""

    def test_one_block_collapses_and_two_blocks_wait_for_a_merge(self):
        s = Server()
        self.addCleanup(s.close)
        p = printed("of_blocks", "of_blocks_restricted")
        Migrator(s).up(p["migrations"])
        table = p["tables"]["order_facts"] + ".order_facts"
        snapshot = {"tenant_id": "acme", "channel": "amazon", "purchased_at": "2026-11-02 10:00:00", "currency": "GBP"}
        insert(s, table, [dict(snapshot, channel_order_id="one-block", version=v, total="%d.00" % v) for v in (1, 2)])
        for v in (1, 2):
            insert(s, table, [dict(snapshot, channel_order_id="two-blocks", version=v, total="%d.00" % v)])
        raw = {r["channel_order_id"]: int(r["n"]) for r in s.rows(
            "SELECT channel_order_id, count() AS n FROM %s GROUP BY channel_order_id" % table)}
        self.assertEqual(raw, {"one-block": 1, "two-blocks": 2})
        final = {r["channel_order_id"]: r["total"] for r in s.rows(
            "SELECT channel_order_id, toString(total) AS total FROM %s FINAL" % table)}
        self.assertEqual(final, {"one-block": "2", "two-blocks": "2"})
        s.exec("OPTIMIZE TABLE %s FINAL" % table)
        self.assertEqual(s.one("SELECT count() AS n FROM %s" % table)["n"], 2, "a merge keeps the newest of each")


def render(sql, p):
    """schemas/clickhouse's Query.Render: the database names for the placeholders."""
    return sql.replace("{database}", p["database"]).replace("{restricted_database}", p["restricted_database"])


def chunks(rows, partition, most=45):
    """Rows (sorted by partition) in inserts of at most `most` partitions: a
    current ClickHouse refuses an insert block of more than 100."""
    rows = sorted(rows, key=partition)
    out, seen = [], set()
    for r in rows:
        k = partition(r)
        if k not in seen and len(seen) == most:
            yield out
            out, seen = [], set()
        seen.add(k)
        out.append(r)
    if out:
        yield out


class RetentionTest(unittest.TestCase):
    """The purger's and offboarding's SQL, captured on 18.16, on a current
    ClickHouse: the same rows remain, labels and facts exactly as their
    periods say, to the second, and none of an offboarded tenant's."""

    def test_a_purge_pass_then_an_offboarding_keep_the_same_rows(self):
        golden, s, p, table = recorded(self, PURGE_SQL, "of_purge")
        orders = golden["orders"]
        month = lambda r: r["purchased_at"][:7]
        year = lambda r: financial_year(datetime.datetime.fromisoformat(r["purchased_at"]))
        for o in orders:
            o["version"] = int(datetime.datetime.fromisoformat(o["purchased_at"]).replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)
        for chunk in chunks(orders, month):
            insert(s, table("order_facts"), [{k: o[k] for k in ("tenant_id", "channel", "channel_order_id", "version", "purchased_at")}
                                             for o in chunk])
            insert(s, table("order_line_facts"), [dict({k: o[k] for k in ("tenant_id", "channel", "channel_order_id", "version",
                                                                            "purchased_at")}, line_id="L%d" % n)
                                                  for o in chunk for n in (1, 2)])
            insert(s, table("erased_orders"), [{k: o[k] for k in ("tenant_id", "channel", "channel_order_id", "purchased_at")}
                                               for o in chunk])
            insert(s, table("delivery_labels"), [{k: o[k] for k in ("tenant_id", "channel", "channel_order_id", "version", "purchased_at")}
                                                 for o in chunk])
        for chunk in chunks(orders, year):
            insert(s, table("financial_records"), [o for o in chunk])
            insert(s, table("accounting_postings"), [{"tenant_id": o["tenant_id"], "provider": "xero", "kind": "summary",
                                                      "jurisdiction": o["jurisdiction"], "purchased_at": o["purchased_at"],
                                                      "last_financial_event_at": o["last_financial_event_at"],
                                                      "channel_order_id": o["channel_order_id"]} for o in chunk])

        run_statements(self, s, p, golden["statements"])
        as_of = datetime.datetime.fromisoformat(golden["as_of"])
        label_cutoff = as_of - datetime.timedelta(days=21)
        analytics_cutoff = as_of.replace(year=as_of.year - 2)
        key = lambda o: "%s/%s/%s" % (o["tenant_id"], o["channel"], o["channel_order_id"])
        computed = {
            "delivery_labels": sorted(key(o) for o in orders if datetime.datetime.fromisoformat(o["purchased_at"]) > label_cutoff),
            "order_facts": sorted(key(o) for o in orders if datetime.datetime.fromisoformat(o["purchased_at"]) > analytics_cutoff),
        }
        computed["order_line_facts"] = computed["order_facts"]
        computed["erased_orders"] = computed["order_facts"]
        for name, want in computed.items():
            self.assertEqual(golden["remaining"][name], want, "18.16's kept %s, and the period's" % name)
        self.assertTrue(any(o["purchased_at"] == label_cutoff.strftime("%Y-%m-%d %H:%M:%S") for o in orders),
                        "the fixture has a label at the cutoff's second")
        self.assertRemain(s, table, golden["remaining"])
        self.assertEqual(s.one("SELECT count() AS n FROM %s" % table("order_line_facts"))["n"], 2 * len(computed["order_facts"]))

        # Offboarding one of the two tenants, after the pass: none of its
        # rows remain, every row of the other does.
        run_statements(self, s, p, golden["offboard_statements"])
        gone = golden["offboarded"]
        for name, want in golden["remaining_after_offboard"].items():
            self.assertEqual(want, [k for k in golden["remaining"][name] if not k.startswith(gone + "/")],
                             "18.16 kept %s after offboarding" % name)
        self.assertRemain(s, table, golden["remaining_after_offboard"])

    def assertRemain(self, s, table, remaining):
        for name, want in remaining.items():
            with self.subTest(table=name):
                if name == "accounting_postings":  # no channel column
                    got = [r["k"] for r in s.rows("SELECT tenant_id || '/' || channel_order_id AS k FROM %s" % table(name))]
                    want = [k.split("/")[0] + "/" + k.split("/")[2] for k in want]
                else:
                    got = [r["k"] for r in s.rows(
                        "SELECT DISTINCT tenant_id || '/' || toString(channel) || '/' || channel_order_id AS k FROM %s" % table(name))]
                self.assertEqual(sorted(got), sorted(want))


class ErasureTest(unittest.TestCase):
    """A buyer's erasure's SQL, captured on 18.16, on a current ClickHouse:
    the same rows after it (the buyer's tokens replaced by the marker in
    every snapshot, labels deleted, invoice parties cleared but the business
    invoice the law keeps, the other buyer untouched), and the erasure's own
    verification reads find nothing left."""

    def test_an_erasure_leaves_the_rows_it_left_on_18_16(self):
        golden, s, p, table = recorded(self, ERASE_SQL, "of_erase")
        # A block a row, as snapshots arrive: a current ClickHouse collapses
        # two snapshots of an order within one block (InsertBlockTest).
        for name, rows in golden["rows"].items():
            for r in rows:
                insert(s, table(name), [r])
        statements = golden["statements"]
        last_rewrite = max(i for i, st in enumerate(statements) if st.startswith("ALTER"))
        run_statements(self, s, p, statements[:last_rewrite + 1])
        for st in statements[last_rewrite + 1:]:
            with self.subTest(verify=st[:80]):
                self.assertEqual([list(r.values()) for r in s.rows(render(st, p))], [[0]], "a verification read found rows left")
        key = "tenant_id || '/' || toString(channel) || '/' || channel_order_id"
        reads = {
            "order_facts": "SELECT %s || '/' || toString(version) || ': ' || %s AS s FROM %s"
                           % (key, " || ',' || ".join(TOKEN_COLUMNS), table("order_facts")),
            "delivery_labels": "SELECT %s AS s FROM %s" % (key, table("delivery_labels")),
            "financial_records": "SELECT %s || ': ' || invoice_party_ciphertext AS s FROM %s" % (key, table("financial_records")),
        }
        self.assertEqual(sorted(reads), sorted(golden["after"]))
        for name, sql in reads.items():
            with self.subTest(table=name):
                self.assertEqual(sorted(r["s"] for r in s.rows(sql)), golden["after"][name])


def recorded(test, path, database):
    """A file Go recorded on 18.16, and a migrated server for it: the file,
    the server, what Go printed, and a table's qualified name."""
    with open(path) as f:
        golden = json.load(f)
    s = Server()
    test.addCleanup(s.close)
    p = printed(database, database + "_restricted")
    Migrator(s).up(p["migrations"])
    return golden, s, p, lambda name: p["tables"][name] + "." + name


def run_statements(test, s, p, statements):
    """Each statement as the purger runs it: reads read, and each ALTER waited
    for until its mutation is done (clickhousedb.WaitForMutations)."""
    for stmt in statements:
        sql = render(stmt, p)
        try:
            if re.match(r"(?i)^\s*SELECT\b", sql):
                s.rows(sql)
                continue
            s.exec(sql)
            for _ in range(600):
                if s.one("SELECT count() AS n FROM system.mutations WHERE NOT is_done")["n"] == 0:
                    break
                time.sleep(0.05)
            else:
                test.fail("a mutation did not finish: %s" % s.rows("SELECT * FROM system.mutations WHERE NOT is_done"))
        except AssertionError:
            raise
        except Exception as e:
            raise AssertionError("%s\n%s" % (e, sql)) from e

def sorted_rows(s):
    lines = s.rstrip("\n").split("\n")
    return "\n".join(lines[:1] + sorted(lines[1:])) + "\n"


if __name__ == "__main__":
    unittest.main()
