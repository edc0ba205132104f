package org.fhirflow.hapi;

import ca.uhn.fhir.jpa.batch2.JpaBatch2Config;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.env.Environment;

/**
 * HAPI's batch2 wiring with the number of work-chunk consumers as a setting
 * ({@code fhirflow.batch2-consumers}, HAPI's default 4): each consumer processes one work chunk
 * (for $import: up to maxBatchResourceCount resources in one database transaction) at a time.
 */
@Configuration
public class FhirflowBatch2Config extends JpaBatch2Config {

	private static final Logger ourLog = LoggerFactory.getLogger(FhirflowBatch2Config.class);

	@Autowired
	private Environment myEnv;

	@Override
	protected int getConcurrentConsumers() {
		int n = myEnv.getProperty("fhirflow.batch2-consumers", Integer.class, 4);
		ourLog.info("fhirflow HAPI: {} batch2 work-chunk consumers", n);
		return n;
	}
}
