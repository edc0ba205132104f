package org.fhirflow.hapi;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.AlgorithmParameters;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.ECParameterSpec;
import java.security.spec.ECPoint;
import java.security.spec.ECPublicKeySpec;
import java.security.spec.RSAPublicKeySpec;
import java.util.Base64;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * SMART Backend Services token issuing for the launcher's optional auth mode (test use only).
 *
 * <p>Validates a client's authentication JWT as
 * https://hl7.org/fhir/smart-app-launch/backend-services.html ("Validating the authentication JWT")
 * says: {@code grant_type=client_credentials}, the jwt-bearer assertion type, {@code alg} RS384 or
 * ES384, a {@code kid} of the client's registered JWKS whose key verifies the signature,
 * {@code iss} = {@code sub} = the registered client id, {@code aud} = this token endpoint's URL,
 * {@code exp} in the future and no more than five minutes ahead, a {@code jti} not used before.
 * Tokens are random, opaque, kept in memory until they expire.</p>
 */
public class SmartTokenService {

	private static final ObjectMapper JSON = new ObjectMapper();
	private static final SecureRandom RANDOM = new SecureRandom();

	private final String clientId;
	private final JsonNode jwks;
	private final long tokenSeconds;
	private final Map<String, Long> tokens = new ConcurrentHashMap<>();
	private final Set<String> jtis = ConcurrentHashMap.newKeySet();

	public SmartTokenService(Path jwksFile, String clientId, long tokenSeconds) throws java.io.IOException {
		this.jwks = JSON.readTree(Files.readString(jwksFile));
		this.clientId = clientId;
		this.tokenSeconds = tokenSeconds;
	}

	/** Thrown when a token request is refused: its OAuth error code and description. */
	public static class Refused extends Exception {
		final String error;

		Refused(String error, String description) {
			super(description);
			this.error = error;
		}
	}

	/** Issue a token for a valid request, as the JSON body of the answer. */
	public String issue(Map<String, String> form, String tokenUrl) throws Refused {
		if (!"client_credentials".equals(form.get("grant_type"))) {
			throw new Refused("unsupported_grant_type", "grant_type must be client_credentials");
		}
		if (!"urn:ietf:params:oauth:client-assertion-type:jwt-bearer".equals(form.get("client_assertion_type"))) {
			throw new Refused("invalid_request", "client_assertion_type must be jwt-bearer");
		}
		String assertion = form.getOrDefault("client_assertion", "");
		String[] parts = assertion.split("\\.");
		if (parts.length != 3) {
			throw new Refused("invalid_client", "the assertion is not a signed JWT");
		}
		try {
			JsonNode header = JSON.readTree(Base64.getUrlDecoder().decode(parts[0]));
			JsonNode claims = JSON.readTree(Base64.getUrlDecoder().decode(parts[1]));
			String alg = header.path("alg").asText();
			String kid = header.path("kid").asText();
			JsonNode jwk = null;
			for (JsonNode k : jwks.path("keys")) {
				if (kid.equals(k.path("kid").asText())) {
					jwk = k;
				}
			}
			if (jwk == null) {
				throw new Refused("invalid_client", "no registered key has kid " + kid);
			}
			Signature verifier;
			if ("RS384".equals(alg) && "RSA".equals(jwk.path("kty").asText())) {
				verifier = Signature.getInstance("SHA384withRSA");
			} else if ("ES384".equals(alg) && "EC".equals(jwk.path("kty").asText())) {
				verifier = Signature.getInstance("SHA384withECDSAinP1363Format");
			} else {
				throw new Refused("invalid_client", "alg must be RS384 or ES384 and fit the registered key");
			}
			verifier.initVerify(publicKey(jwk));
			verifier.update((parts[0] + "." + parts[1]).getBytes(StandardCharsets.US_ASCII));
			if (!verifier.verify(Base64.getUrlDecoder().decode(parts[2]))) {
				throw new Refused("invalid_client", "the assertion's signature does not verify");
			}
			long now = System.currentTimeMillis() / 1000;
			long exp = claims.path("exp").asLong(0);
			if (!clientId.equals(claims.path("iss").asText()) || !clientId.equals(claims.path("sub").asText())) {
				throw new Refused("invalid_client", "iss and sub must be the registered client id");
			}
			if (!tokenUrl.equals(claims.path("aud").asText())) {
				throw new Refused("invalid_client", "aud must be the token endpoint URL");
			}
			if (exp <= now || exp > now + 300 + 60) {
				throw new Refused("invalid_client", "exp must be in the future and at most five minutes ahead");
			}
			String jti = claims.path("jti").asText();
			if (jti.isEmpty() || !jtis.add(jti)) {
				throw new Refused("invalid_client", "jti missing or already used");
			}
		} catch (Refused r) {
			throw r;
		} catch (Exception e) {
			throw new Refused("invalid_client", "unreadable assertion: " + e.getClass().getSimpleName());
		}
		byte[] raw = new byte[32];
		RANDOM.nextBytes(raw);
		String token = Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
		tokens.put(token, System.currentTimeMillis() / 1000 + tokenSeconds);
		return "{\"access_token\":\"" + token + "\",\"token_type\":\"bearer\",\"expires_in\":" + tokenSeconds
				+ ",\"scope\":" + JSON.valueToTree(form.getOrDefault("scope", "")) + "}";
	}

	/** True if {@code token} was issued here and has not expired. */
	public boolean valid(String token) {
		Long exp = tokens.get(token);
		return exp != null && exp > System.currentTimeMillis() / 1000;
	}

	private static PublicKey publicKey(JsonNode jwk) throws Exception {
		Base64.Decoder b64 = Base64.getUrlDecoder();
		if ("RSA".equals(jwk.path("kty").asText())) {
			BigInteger n = new BigInteger(1, b64.decode(jwk.path("n").asText()));
			BigInteger e = new BigInteger(1, b64.decode(jwk.path("e").asText()));
			return KeyFactory.getInstance("RSA").generatePublic(new RSAPublicKeySpec(n, e));
		}
		AlgorithmParameters params = AlgorithmParameters.getInstance("EC");
		params.init(new ECGenParameterSpec("secp384r1"));
		ECParameterSpec spec = params.getParameterSpec(ECParameterSpec.class);
		ECPoint point = new ECPoint(new BigInteger(1, b64.decode(jwk.path("x").asText())),
				new BigInteger(1, b64.decode(jwk.path("y").asText())));
		return KeyFactory.getInstance("EC").generatePublic(new ECPublicKeySpec(point, spec));
	}
}
