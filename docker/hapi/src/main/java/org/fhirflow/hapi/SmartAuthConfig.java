package org.fhirflow.hapi;

import ca.uhn.fhir.interceptor.api.Hook;
import ca.uhn.fhir.interceptor.api.Interceptor;
import ca.uhn.fhir.interceptor.api.Pointcut;
import ca.uhn.fhir.rest.api.server.RequestDetails;
import ca.uhn.fhir.rest.server.RestfulServer;
import ca.uhn.fhir.rest.server.exceptions.AuthenticationException;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.web.servlet.ServletRegistrationBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * Optional auth mode of the launcher ({@code hapi.sh up --auth-jwks FILE --auth-client-id ID}, i.e.
 * {@code fhirflow.auth.jwks} / {@code fhirflow.auth.client-id}): a SMART Backend Services token
 * endpoint at {@code /auth/token}, its discovery document at
 * {@code /fhir/.well-known/smart-configuration}, and an interceptor that answers 401 to every FHIR
 * request without a valid bearer token. Off unless {@code fhirflow.auth.jwks} is set.
 */
@Configuration
@ConditionalOnProperty(name = "fhirflow.auth.jwks")
public class SmartAuthConfig {

	@Bean
	public SmartTokenService smartTokenService(
			@Value("${fhirflow.auth.jwks}") String jwks,
			@Value("${fhirflow.auth.client-id:fhirflow}") String clientId,
			@Value("${fhirflow.auth.token-seconds:300}") long tokenSeconds,
			RestfulServer server) throws IOException {
		SmartTokenService service = new SmartTokenService(Path.of(jwks), clientId, tokenSeconds);
		server.registerInterceptor(new BearerInterceptor(service));
		return service;
	}

	@Bean
	public ServletRegistrationBean<HttpServlet> smartTokenServlet(SmartTokenService service) {
		HttpServlet servlet = new HttpServlet() {
			@Override
			protected void doPost(HttpServletRequest req, HttpServletResponse resp) throws IOException {
				Map<String, String> form = new HashMap<>();
				req.getParameterMap().forEach((k, v) -> form.put(k, v.length > 0 ? v[0] : ""));
				resp.setHeader("Cache-Control", "no-store");
				try {
					send(resp, 200, service.issue(form, req.getRequestURL().toString()));
				} catch (SmartTokenService.Refused r) {
					send(resp, r.error.equals("invalid_client") ? 401 : 400,
							"{\"error\":\"" + r.error + "\",\"error_description\":\"" + r.getMessage().replace("\"", "'") + "\"}");
				}
			}
		};
		ServletRegistrationBean<HttpServlet> reg = new ServletRegistrationBean<>(servlet, "/auth/token");
		reg.setName("smart-token");
		return reg;
	}

	@Bean
	public ServletRegistrationBean<HttpServlet> smartConfigurationServlet() {
		HttpServlet servlet = new HttpServlet() {
			@Override
			protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
				String root = req.getRequestURL().toString().replaceFirst("/fhir/\\.well-known/smart-configuration$", "");
				send(resp, 200, "{\"token_endpoint\":\"" + root + "/auth/token\","
						+ "\"grant_types_supported\":[\"client_credentials\"],"
						+ "\"token_endpoint_auth_methods_supported\":[\"private_key_jwt\"],"
						+ "\"token_endpoint_auth_signing_alg_values_supported\":[\"RS384\",\"ES384\"],"
						+ "\"capabilities\":[\"client-confidential-asymmetric\"]}");
			}
		};
		ServletRegistrationBean<HttpServlet> reg =
				new ServletRegistrationBean<>(servlet, "/fhir/.well-known/smart-configuration");
		reg.setName("smart-configuration");
		return reg;
	}

	private static void send(HttpServletResponse resp, int status, String json) throws IOException {
		resp.setStatus(status);
		resp.setContentType("application/json");
		resp.getOutputStream().write(json.getBytes(StandardCharsets.UTF_8));
	}

	/** Rejects FHIR requests without a bearer token this server issued (401, WWW-Authenticate). */
	@Interceptor
	public static class BearerInterceptor {
		private final SmartTokenService service;

		BearerInterceptor(SmartTokenService service) {
			this.service = service;
		}

		@Hook(Pointcut.SERVER_INCOMING_REQUEST_POST_PROCESSED)
		public boolean check(RequestDetails details, HttpServletRequest req, HttpServletResponse resp) {
			String auth = req.getHeader("Authorization");
			if (auth == null || !auth.startsWith("Bearer ") || !service.valid(auth.substring(7))) {
				AuthenticationException e = new AuthenticationException("a valid SMART Backend Services bearer token is required");
				e.addAuthenticateHeaderForRealm("fhirflow-hapi");
				throw e;
			}
			return true;
		}
	}
}
