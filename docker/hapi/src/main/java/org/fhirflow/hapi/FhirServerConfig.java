package org.fhirflow.hapi;

import ca.uhn.fhir.batch2.jobs.imprt.BulkDataImportProvider;
import ca.uhn.fhir.jpa.api.config.JpaStorageSettings;
import ca.uhn.fhir.jpa.api.dao.IFhirSystemDao;
import ca.uhn.fhir.jpa.provider.JpaCapabilityStatementProvider;
import ca.uhn.fhir.jpa.provider.JpaSystemProvider;
import ca.uhn.fhir.jpa.search.DatabaseBackedPagingProvider;
import ca.uhn.fhir.context.support.IValidationSupport;
import ca.uhn.fhir.narrative2.NullNarrativeGenerator;
import ca.uhn.fhir.rest.api.EncodingEnum;
import ca.uhn.fhir.rest.server.IncomingRequestAddressStrategy;
import ca.uhn.fhir.rest.server.RestfulServer;
import ca.uhn.fhir.rest.server.interceptor.ResponseHighlighterInterceptor;
import ca.uhn.fhir.rest.server.provider.ResourceProviderFactory;
import ca.uhn.fhir.rest.server.util.ISearchParamRegistry;
import org.springframework.boot.web.servlet.ServletRegistrationBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The FHIR REST endpoint: a HAPI {@link RestfulServer} servlet mounted at /fhir/*.
 */
@Configuration
public class FhirServerConfig {

	@Bean
	public RestfulServer fhirRestfulServer(
			IFhirSystemDao<?, ?> theSystemDao,
			ResourceProviderFactory theResourceProviders,
			JpaSystemProvider<?, ?> theSystemProvider,
			BulkDataImportProvider theBulkImportProvider,
			DatabaseBackedPagingProvider thePagingProvider,
			JpaStorageSettings theStorageSettings,
			ISearchParamRegistry theSearchParamRegistry,
			IValidationSupport theValidationSupport) {
		RestfulServer server = new RestfulServer(theSystemDao.getContext());
		theSystemDao.getContext().setNarrativeGenerator(new NullNarrativeGenerator());

		// One JPA resource provider per resource type (CRUD, search, history, $validate, ...)
		server.registerProviders(theResourceProviders.createProviders());
		// System level: transaction/batch bundles, $meta, history, $expunge ...
		server.registerProvider(theSystemProvider);
		// Bulk data: POST [base]/$import and GET [base]/$import-poll-status?_jobId=...
		server.registerProvider(theBulkImportProvider);

		JpaCapabilityStatementProvider capabilities = new JpaCapabilityStatementProvider(
				server, theSystemDao, theStorageSettings, theSearchParamRegistry, theValidationSupport);
		capabilities.setImplementationDescription("fhirflow local HAPI FHIR R4 server");
		server.setServerConformanceProvider(capabilities);

		server.setPagingProvider(thePagingProvider);
		server.setDefaultResponseEncoding(EncodingEnum.JSON);
		server.setServerAddressStrategy(new IncomingRequestAddressStrategy());
		server.registerInterceptor(new ResponseHighlighterInterceptor());
		return server;
	}

	@Bean
	public ServletRegistrationBean<RestfulServer> fhirServletRegistration(RestfulServer theServer) {
		ServletRegistrationBean<RestfulServer> reg = new ServletRegistrationBean<>(theServer, "/fhir/*");
		reg.setName("fhir");
		reg.setLoadOnStartup(1);
		return reg;
	}
}
