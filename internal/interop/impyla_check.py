"""Runs impyla against a coordinator and prints what it got, one line per
value, for internal/interop's Go tests to compare exactly.

usage: impyla_check.py HOST PORT AUTH [options as key=value] -- SQL...

AUTH is NOSASL, PLAIN, GSSAPI or JWT (impyla's auth_mechanism). Options:
user, password, krb_host, kerberos_service_name, use_ssl, ca_cert, jwt,
use_http_transport (HiveServer2 over HTTP) and http_path.
For each statement it prints "stmt <sql>", then "col <name> <type>" for
each result column, then "row" and one "val <rendering>" per value.
"""
import datetime
import decimal
import sys

from impala.dbapi import connect


def render(v):
    if v is None:
        return "None"
    if isinstance(v, bool):
        return "True" if v else "False"
    if isinstance(v, int):
        return "int:%d" % v
    if isinstance(v, float):
        return "float:" + repr(v)
    if isinstance(v, decimal.Decimal):
        return "Decimal:" + str(v)
    if isinstance(v, datetime.datetime):
        return "datetime:" + v.isoformat(sep=" ")
    if isinstance(v, datetime.date):
        return "date:" + v.isoformat()
    if isinstance(v, (bytes, bytearray)):
        return "bytes:0x" + bytes(v).hex()
    if isinstance(v, str):
        return "str:" + v.replace("\\", "\\\\").replace("\n", "\\n")
    return "?" + type(v).__name__


def main(argv):
    host, port, auth = argv[1], int(argv[2]), argv[3]
    rest = argv[4:]
    sep = rest.index("--")
    opts = dict(kv.split("=", 1) for kv in rest[:sep])
    stmts = rest[sep + 1:]
    kw = dict(host=host, port=port, auth_mechanism=auth, timeout=60)
    for k in ("user", "password", "krb_host", "kerberos_service_name", "ca_cert", "jwt", "http_path"):
        if k in opts:
            kw[k] = opts[k]
    for k in ("use_ssl", "use_http_transport"):
        if opts.get(k) == "true":
            kw[k] = True
    conn = connect(**kw)
    cur = conn.cursor()
    for sql in stmts:
        print("stmt " + sql)
        cur.execute(sql)
        if cur.description:
            for d in cur.description:
                print("col %s %s" % (d[0], d[1]))
            while True:
                rows = cur.fetchmany(1000)
                if not rows:
                    break
                for r in rows:
                    print("row")
                    for v in r:
                        print("val " + render(v))
    cur.close()
    conn.close()
    print("done")


if __name__ == "__main__":
    main(sys.argv)
