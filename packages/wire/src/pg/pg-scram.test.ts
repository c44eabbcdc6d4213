import { describe, expect, test } from "vitest";
import { computeScramClientFinal, createScramClientFirst, verifyScramServerFinal } from "./pg-scram.js";

// RFC 7677 section 3 test vector.
const clientNonce = "rOprNGfwEbeRWgbNEkqO";
const serverFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";

describe("SCRAM-SHA-256 toward the backend", () => {
  test("reproduces the RFC 7677 exchange", () => {
    const first = createScramClientFirst(clientNonce, "user");
    expect(first.message).toBe("n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
    const final = computeScramClientFinal(first, serverFirst, "pencil");
    expect(final.message).toBe(
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
    );
    expect(() =>
      verifyScramServerFinal("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", final),
    ).not.toThrow();
  });

  test("refuses a wrong server signature, a server error and a nonce that does not extend ours", () => {
    const first = createScramClientFirst(clientNonce, "user");
    const final = computeScramClientFinal(first, serverFirst, "pencil");
    expect(() => verifyScramServerFinal("v=AAAA", final)).toThrow(/signature/);
    expect(() => verifyScramServerFinal("e=invalid-proof", final)).toThrow(/invalid-proof/);
    expect(() => computeScramClientFinal(first, "r=other,s=AA==,i=1", "pencil")).toThrow(/nonce/);
    expect(() => computeScramClientFinal(first, "r=rOprNGfwEbeRWgbNEkqOx", "pencil")).toThrow(/malformed/);
  });

  test("uses * as the user by default, as PostgreSQL clients do", () => {
    expect(createScramClientFirst("abc").message).toBe("n,,n=*,r=abc");
  });
});
