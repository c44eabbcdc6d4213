import { inspect } from "node:util";
import { describe, expect, test } from "vitest";
import { ConnectionCapture, SecretWatch } from "./secret-watch.js";

const HEADER = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9";
const PAYLOAD = "eyJhdWQiOiJodHRwczovL29zc3JkYm1zLWFhZC5kYXRhYmFzZS53aW5kb3dzLm5ldCJ9";
const SIGNATURE = "c2lnbmF0dXJlLWJ5dGVzLWZvci10ZXN0cw";
const JWT = `${HEADER}.${PAYLOAD}.${SIGNATURE}`;

describe("finding a secret in received bytes", () => {
  test("the whole JWT in UTF-8 reports every part", () => {
    const watch = new SecretWatch(JWT, "canary");
    expect(watch.partsIn(Buffer.from(`p\0\0\0${JWT}\0`))).toEqual([
      "whole",
      "header",
      "payload",
      "signature",
    ]);
  });

  test("the whole JWT in UTF-16LE (a TDS FEDAUTH token) is found", () => {
    const watch = new SecretWatch(JWT, "canary");
    expect(watch.partsIn(Buffer.concat([Buffer.alloc(8), Buffer.from(JWT, "utf16le")]))).toEqual([
      "whole",
      "header",
      "payload",
      "signature",
    ]);
  });

  test("each JWT part alone is found", () => {
    const watch = new SecretWatch(JWT, "canary");
    expect(watch.partsIn(Buffer.from(`x${PAYLOAD}x`))).toEqual(["payload"]);
    expect(watch.partsIn(Buffer.from(SIGNATURE, "utf16le"))).toEqual(["signature"]);
    expect(watch.partsIn(Buffer.from(`${HEADER}.`))).toEqual(["header"]);
  });

  test("JWT parts shorter than 8 characters are not searched alone", () => {
    const watch = new SecretWatch(`${HEADER}.${PAYLOAD}.abc`, "short-signature");
    expect(watch.partsIn(Buffer.from("abc"))).toEqual([]);
    expect(watch.partsIn(Buffer.from(PAYLOAD))).toEqual(["payload"]);
  });

  test("a secret that is not JWT-shaped is only found whole", () => {
    const watch = new SecretWatch("opaque.secret", "opaque");
    expect(watch.partsIn(Buffer.from("opaque"))).toEqual([]);
    expect(watch.partsIn(Buffer.from("xx opaque.secret xx"))).toEqual(["whole"]);
  });

  test("nothing is found in bytes without the secret", () => {
    expect(new SecretWatch(JWT, "canary").partsIn(Buffer.from("password123"))).toEqual([]);
  });

  test("an empty secret is refused", () => {
    expect(() => new SecretWatch("", "empty")).toThrow(TypeError);
  });

  test("inspecting or serialising a watch shows the label, never the secret", () => {
    const watch = new SecretWatch(JWT, "canary");
    expect(inspect(watch, { depth: 5, showHidden: true })).not.toContain(PAYLOAD);
    expect(JSON.stringify(watch)).toBe('{"label":"canary"}');
  });
});

describe("capturing a connection", () => {
  test("a secret split across chunks is found in the capture", () => {
    const capture = new ConnectionCapture();
    capture.append(Buffer.from(JWT.slice(0, 40)));
    capture.append(Buffer.from(JWT.slice(40)));
    expect(new SecretWatch(JWT, "canary").partsIn(capture.contents())).toContain("whole");
    expect(capture.bytesReceived).toBe(JWT.length);
  });

  test("keeps bytes up to its bound and counts the rest", () => {
    const capture = new ConnectionCapture(10);
    capture.append(Buffer.from("0123456"));
    capture.append(Buffer.from("789abcdef"));
    expect(capture.contents().toString()).toBe("0123456789");
    expect(capture.bytesReceived).toBe(16);
  });

  test("keeps a copy, so a reused buffer does not change what was recorded", () => {
    const capture = new ConnectionCapture();
    const chunk = Buffer.from("secret");
    capture.append(chunk);
    chunk.fill(0);
    expect(capture.contents().toString()).toBe("secret");
    expect(inspect(capture, { showHidden: true })).not.toContain("secret");
  });
});
