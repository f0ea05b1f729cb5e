"""The SDK's pure parts, in plain CPython without the generated bindings:
headers, messages with their JSON, text, query and URL helpers, and errors.

Run: python3 -m unittest discover -s guest-sdk-py/tests
"""

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sluice import ClientError, Headers, Request, Response, SendError, UpstreamError  # noqa: E402


class HeadersTest(unittest.TestCase):
    def test_names_compare_case_insensitively(self):
        headers = Headers([("Content-Type", "text/plain"), ("X-Thing", "1")])
        self.assertEqual(headers.get("content-type"), "text/plain")
        headers.set("CONTENT-TYPE", "application/json")
        self.assertEqual(headers.get_all("content-type"), ["application/json"])
        self.assertTrue(headers.remove("x-thing"))
        self.assertFalse(headers.remove("x-thing"))
        self.assertEqual(len(headers), 1)
        self.assertIn("Content-type", headers)
        self.assertNotIn("x-thing", headers)

    def test_append_keeps_every_value_in_order(self):
        headers = Headers()
        headers.append("Set-Cookie", "a=1")
        headers.append("x-other", "o")
        headers.append("set-cookie", "b=2")
        self.assertEqual(headers.get_all("SET-COOKIE"), ["a=1", "b=2"])
        self.assertEqual(headers.get("set-cookie"), "a=1")
        self.assertEqual(list(headers), [("Set-Cookie", "a=1"), ("x-other", "o"), ("set-cookie", "b=2")])

    def test_set_moves_the_name_last(self):
        headers = Headers({"a": "1", "b": "2"}.items())
        headers.set("A", "3")
        self.assertEqual(list(headers), [("b", "2"), ("A", "3")])

    def test_missing_name_gives_the_default(self):
        self.assertIsNone(Headers().get("x"))
        self.assertEqual(Headers().get("x", ""), "")

    def test_non_string_values_are_refused(self):
        with self.assertRaises(TypeError):
            Headers().set("x-count", 5)


class QueryAndUrlTest(unittest.TestCase):
    def test_set_query_replaces_and_keeps_other_parameters(self):
        request = Request("GET", "https://api.example/items?a=1&b=2&a=3")
        request.set_query("a", "x y")
        self.assertEqual(request.url, "https://api.example/items?b=2&a=x+y")
        self.assertEqual(request.query("a"), "x y")
        request.remove_query("b")
        request.remove_query("a")
        self.assertEqual(request.url, "https://api.example/items")

    def test_query_values_are_decoded(self):
        request = Request("GET", "https://api.example/?q=caf%C3%A9+au+lait&empty=&q=2")
        self.assertEqual(request.query("q"), "café au lait")
        self.assertEqual(request.query_all("q"), ["café au lait", "2"])
        self.assertEqual(request.query("empty"), "")
        self.assertIsNone(request.query("missing"))

    def test_append_query_keeps_earlier_values_in_order(self):
        request = Request("GET", "https://api.example/")
        request.append_query("name[]", "ann")
        request.append_query("name[]", "bo b")
        self.assertEqual(request.url, "https://api.example/?name%5B%5D=ann&name%5B%5D=bo+b")
        request = Request("GET", "https://api.example/types?count=2&organization=a")
        request.append_query("organization", "b&c")
        self.assertEqual(request.url, "https://api.example/types?count=2&organization=a&organization=b%26c")

    def test_set_host_keeps_port_path_and_query(self):
        request = Request("GET", "https://api.example:8443/v1/items?x=1")
        request.set_host("EU.api.example")
        self.assertEqual(request.url, "https://eu.api.example:8443/v1/items?x=1")
        request.set_host("[::1]")
        self.assertEqual(request.url, "https://[::1]:8443/v1/items?x=1")
        for bad in ("bad host", "evil.example/path", "a@b", "", "x:1"):
            with self.assertRaises(ValueError, msg=bad):
                request.set_host(bad)

    def test_set_path_encodes_what_a_path_cannot_hold(self):
        request = Request("GET", "https://api.example/old?x=1")
        request.set_path("/v2/a b/c%2Fd?#")
        self.assertEqual(request.url, "https://api.example/v2/a%20b/c%2Fd%3F%23?x=1")
        self.assertEqual(request.path, "/v2/a%20b/c%2Fd%3F%23")
        request.set_path("relative")
        self.assertEqual(request.path, "/relative")

    def test_path_of_a_bare_host_is_the_root(self):
        self.assertEqual(Request("GET", "https://api.example").path, "/")

    def test_relative_url_is_refused(self):
        with self.assertRaises(ValueError):
            Request("GET", "/items").set_query("a", "1")


class BodyTest(unittest.TestCase):
    def test_json_is_written_as_serde_json_writes_it(self):
        response = Response.from_json(201, {"ok": True, "name": "café", "list": [1, 2.5, None]})
        self.assertEqual(response.status, 201)
        self.assertEqual(response.header("Content-Type"), "application/json")
        self.assertEqual(response.body, '{"ok":true,"name":"café","list":[1,2.5,null]}'.encode())

    def test_json_round_trips(self):
        request = Request("POST", "https://api.example/")
        request.set_json({"b": 1, "a": [True]})
        self.assertEqual(request.json(), {"b": 1, "a": [True]})
        self.assertEqual(list(request.json()), ["b", "a"], "key order is kept")

    def test_invalid_request_json_is_a_client_error(self):
        request = Request("POST", "https://api.example/", body="{")
        with self.assertRaises(ClientError) as caught:
            request.json()
        self.assertEqual(caught.exception.status, 400)
        self.assertTrue(caught.exception.message.startswith("request body is not valid JSON"))

    def test_invalid_backend_json_is_an_upstream_error(self):
        for body in (b"<html>", b"NaN", b"[Infinity]", b"\xff"):
            with self.assertRaises(UpstreamError, msg=body):
                Response(200, body=body).json()

    def test_text_decodes_utf8_and_blames_the_sender_otherwise(self):
        self.assertEqual(Request("POST", "https://a.example/", body="héllo").text(), "héllo")
        with self.assertRaises(ClientError):
            Request("POST", "https://a.example/", body=b"\xff").text()
        with self.assertRaises(UpstreamError):
            Response(200, body=b"\xff").text()

    def test_text_response(self):
        response = Response.from_text(404, "no such thing")
        self.assertEqual((response.status, response.body), (404, b"no such thing"))
        self.assertEqual(response.header("content-type"), "text/plain; charset=utf-8")

    def test_body_takes_bytes_or_str(self):
        response = Response()
        self.assertEqual((response.status, response.body, len(response.headers)), (200, b"", 0))
        response.body = bytearray(b"ab")
        self.assertEqual(response.body, b"ab")
        response.body = "é"
        self.assertEqual(response.body, "é".encode())
        with self.assertRaises(TypeError):
            response.body = {"not": "bytes"}

    def test_is_success_means_2xx(self):
        self.assertEqual([Response(s).is_success for s in (199, 200, 299, 300)], [False, True, True, False])


class ErrorsTest(unittest.TestCase):
    def test_client_error_takes_only_4xx(self):
        self.assertEqual(ClientError(422, "name is required").status, 422)
        for status in (399, 500, 503, True, "400"):
            with self.assertRaises(ValueError, msg=repr(status)):
                ClientError(status, "x")

    def test_send_error_describes_its_kind(self):
        self.assertEqual(str(SendError("denied", "rule x")), "denied by egress policy: rule x")
        self.assertEqual(str(SendError("timeout")), "backend timed out")
        self.assertEqual(SendError("failed", "reset").kind, "failed")
        with self.assertRaises(ValueError):
            SendError("lost", "x")


class ImportTest(unittest.TestCase):
    def test_host_names_need_the_bindings_but_nothing_else_does(self):
        import sluice

        self.assertNotIn("wit_world", sys.modules)
        with self.assertRaises(ModuleNotFoundError):
            sluice.send  # noqa: B018 - the access is the test
        with self.assertRaises(AttributeError):
            sluice.no_such_name  # noqa: B018


if __name__ == "__main__":
    unittest.main()
