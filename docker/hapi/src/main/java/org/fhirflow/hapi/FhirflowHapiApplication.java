package org.fhirflow.hapi;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.autoconfigure.data.jpa.JpaRepositoriesAutoConfiguration;
import org.springframework.boot.autoconfigure.elasticsearch.ElasticsearchClientAutoConfiguration;
import org.springframework.boot.autoconfigure.elasticsearch.ElasticsearchRestClientAutoConfiguration;
import org.springframework.boot.autoconfigure.flyway.FlywayAutoConfiguration;
import org.springframework.boot.autoconfigure.jdbc.DataSourceAutoConfiguration;
import org.springframework.boot.autoconfigure.jdbc.DataSourceTransactionManagerAutoConfiguration;
import org.springframework.boot.autoconfigure.orm.jpa.HibernateJpaAutoConfiguration;
import org.springframework.boot.autoconfigure.quartz.QuartzAutoConfiguration;
import org.springframework.boot.autoconfigure.sql.init.SqlInitializationAutoConfiguration;
import org.springframework.boot.autoconfigure.thymeleaf.ThymeleafAutoConfiguration;

/**
 * fhirflow's local HAPI FHIR JPA server (R4, H2 on disk, bulk $import).
 *
 * <p>Spring Boot only supplies the embedded Tomcat and property handling; all
 * persistence wiring is explicit in {@link FhirflowJpaConfig} (HAPI builds its
 * own EntityManagerFactory, Spring Data repositories and scheduler), so the
 * Boot auto-configurations that would compete with it are switched off.</p>
 *
 * <p>Settings (any Spring property source: CLI {@code --x=y}, {@code -Dx=y}, env):</p>
 * <ul>
 *   <li>{@code server.port} (default 8080), {@code server.address} (default 127.0.0.1)</li>
 *   <li>{@code fhirflow.data-dir} / env {@code HAPI_DATA_DIR} (default ./data): H2 files live in DIR/h2</li>
 *   <li>{@code fhirflow.batch2-maintenance-ms} (default 1000): batch2 job maintenance interval</li>
 * </ul>
 */
@SpringBootApplication(
		exclude = {
			DataSourceAutoConfiguration.class,
			DataSourceTransactionManagerAutoConfiguration.class,
			HibernateJpaAutoConfiguration.class,
			JpaRepositoriesAutoConfiguration.class,
			SqlInitializationAutoConfiguration.class,
			FlywayAutoConfiguration.class,
			QuartzAutoConfiguration.class,
			ElasticsearchClientAutoConfiguration.class,
			ElasticsearchRestClientAutoConfiguration.class,
			ThymeleafAutoConfiguration.class
		})
public class FhirflowHapiApplication {

	public static void main(String[] args) {
		SpringApplication.run(FhirflowHapiApplication.class, args);
	}
}
