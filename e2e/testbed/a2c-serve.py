"""acme2certifier (PyPI) over HTTPS on one loopback port, for the ARI tests.

    a2c-serve.py <port> <acme_srv.cfg> <tls cert> <tls key>

acme2certifier ships a WSGI application; this serves it with the standard library's WSGI
server, one thread per request, behind TLS, and tells it the scheme is https so that the
URLs in its directory are."""
import base64
import io
import json
import os
import ssl
import sys
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

port, config, cert, key = sys.argv[1:5]
os.environ["ACME_SRV_CONFIGFILE"] = config
from acme2certifier.share.acme2certifier_wsgi import application  # noqa: E402 (reads the config)


def https(environ, start_response):
    environ["wsgi.url_scheme"] = "https"
    environ["HTTPS"] = "on"
    # acme2certifier logs no request payload: a new order's is logged here, so a test can see
    # what the client asked for (identifiers, replaces).
    if environ.get("REQUEST_METHOD") == "POST" and environ.get("PATH_INFO", "").endswith("/neworders"):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        try:
            encoded = json.loads(body)["payload"]
            payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            sys.stderr.write("new order payload: %s\n" % payload.decode())
        except (ValueError, KeyError) as err:
            sys.stderr.write("new order payload unreadable: %s\n" % err)
    return application(environ, start_response)


class Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class Handler(WSGIRequestHandler):
    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.log_date_time_string(), fmt % args))


httpd = make_server("127.0.0.1", int(port), https, server_class=Server, handler_class=Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
httpd.serve_forever()
