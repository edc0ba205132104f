package org.fhirflow.hapi;

import ca.uhn.fhir.batch2.jobs.config.Batch2JobsConfig;
import ca.uhn.fhir.batch2.maintenance.JobMaintenanceServiceImpl;
import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.jpa.api.config.JpaStorageSettings;
import ca.uhn.fhir.jpa.api.config.ThreadPoolFactoryConfig;
import ca.uhn.fhir.jpa.config.HapiJpaConfig;
import ca.uhn.fhir.jpa.config.r4.JpaR4Config;
import ca.uhn.fhir.jpa.config.util.HapiEntityManagerFactoryUtil;
import ca.uhn.fhir.jpa.model.config.PartitionSettings;
import ca.uhn.fhir.jpa.model.config.SubscriptionSettings;
import ca.uhn.fhir.jpa.model.dialect.HapiFhirH2Dialect;
import ca.uhn.fhir.jpa.model.dialect.HapiFhirPostgresDialect;
import ca.uhn.fhir.jpa.model.entity.StorageSettings;
import ca.uhn.fhir.jpa.subscription.channel.config.SubscriptionChannelConfig;
import jakarta.persistence.EntityManagerFactory;
import org.apache.commons.dbcp2.BasicDataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.BeanCreationException;
import org.springframework.beans.factory.config.BeanPostProcessor;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Import;
import org.springframework.context.annotation.Primary;
import org.springframework.core.env.Environment;
import org.springframework.orm.jpa.JpaTransactionManager;
import org.springframework.orm.jpa.LocalContainerEntityManagerFactoryBean;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import javax.sql.DataSource;

/**
 * Persistence + HAPI JPA wiring: R4 DAOs/resource providers, H2 file database,
 * batch2 (job coordinator, maintenance, bulk import job definitions).
 */
@Configuration
@Import({
	JpaR4Config.class, // FhirContext R4, DAOs, resource providers, JpaConfig (scheduler, validation chain...)
	HapiJpaConfig.class, // paging provider, stale-search cleanup, fulltext svc stub
	SubscriptionChannelConfig.class, // in-memory message broker used by batch2 work notifications
	FhirflowBatch2Config.class, // batch2 persistence + coordinator + maintenance (JpaBatch2Config, N consumers)
	Batch2JobsConfig.class, // job definitions incl. BulkImportAppCtx (BULK_IMPORT_PULL, BulkDataImportProvider bean)
	ThreadPoolFactoryConfig.class
})
public class FhirflowJpaConfig {

	private static final Logger ourLog = LoggerFactory.getLogger(FhirflowJpaConfig.class);

	@Bean
	public JpaStorageSettings jpaStorageSettings(Environment theEnv) {
		JpaStorageSettings s = new JpaStorageSettings();
		// fhirflow emits deterministic hex-digest ids that may be all digits: accept any client id.
		// With ANY, server-assigned ids must be UUIDs so they never collide with numeric client ids.
		s.setResourceClientIdStrategy(JpaStorageSettings.ClientIdStrategyEnum.ANY);
		s.setResourceServerIdStrategy(JpaStorageSettings.IdStrategyEnum.UUID);
		// NDJSON files arrive in any order: let references point at resources that do not exist yet.
		s.setEnforceReferentialIntegrityOnWrite(false);
		s.setEnforceReferentialIntegrityOnDelete(false);
		s.setAutoCreatePlaceholderReferenceTargets(true);
		s.setAllowExternalReferences(true);
		// No Lucene/Elasticsearch.
		s.setHibernateSearchIndexSearchParams(false);
		s.setHibernateSearchIndexFullText(false);
		s.setIndexMissingFields(StorageSettings.IndexEnabledEnum.DISABLED);
		// Searches always hit the database (counts right after an import must be exact).
		s.setReuseCachedSearchResultsForMillis(null);
		// Gated jobs with a single chunk move on without waiting for the next maintenance pass.
		s.setJobFastTrackingEnabled(true);
		// Handy for tests that need to wipe data.
		s.setExpungeEnabled(true);
		s.setDeleteExpungeEnabled(true);
		s.setAllowMultipleDelete(true);
		// Not needed locally; keeps startup/background work small.
		s.setEnableTaskPreExpandValueSets(false);
		s.setEnableTaskBulkExportJobExecution(false);

		// Throughput (docs/benchmarks.md says what each bought). Every one is a property, so a bench
		// can switch it off: --fhirflow.mass-ingestion=false etc.
		// Mass ingestion: existing resources are compared by hash instead of re-extracting their
		// indexes, tags are not merged, and resource ids are cached (HAPI: "rapid backloading").
		s.setMassIngestionMode(flag(theEnv, "fhirflow.mass-ingestion", true));
		// Conditional-reference / match-URL resolution is cached (placeholders, conditional creates).
		s.setMatchUrlCacheEnabled(flag(theEnv, "fhirflow.match-url-cache", true));
		// No HFJ_RES_VER_PROV row (meta.source / request id) for every version written.
		s.setStoreMetaSourceInformation(flag(theEnv, "fhirflow.store-meta-source", false)
				? JpaStorageSettings.StoreMetaSourceInformationEnum.SOURCE_URI_AND_REQUEST_ID
				: JpaStorageSettings.StoreMetaSourceInformationEnum.NONE);
		// (Not set: inlineResourceTextBelowSize, the starter's PostgreSQL advice, does nothing in HAPI 8.8 - its
		// getter still says 0 after setInlineResourceTextBelowSize(4000).)
		// Index rows without the redundant SP_NAME/RES_TYPE/SP_UPDATED columns (hash columns carry them).
		s.setIndexStorageOptimized(flag(theEnv, "fhirflow.index-storage-optimized", true));
		// History rows for every version (true: HAPI's default; false writes only the current version).
		s.setResourceDbHistoryEnabled(flag(theEnv, "fhirflow.history", true));
		ourLog.info("fhirflow HAPI: mass ingestion {}, match URL cache {}, meta source {}, "
				+ "index storage optimized {}, history {}", s.isMassIngestionMode(), s.isMatchUrlCacheEnabled(),
				s.getStoreMetaSourceInformation(), s.isIndexStorageOptimized(), s.isResourceDbHistoryEnabled());
		return s;
	}

	private static boolean flag(Environment theEnv, String theName, boolean theDefault) {
		return theEnv.getProperty(theName, Boolean.class, theDefault);
	}

	@Bean
	public PartitionSettings partitionSettings() {
		return new PartitionSettings();
	}

	@Bean
	public SubscriptionSettings subscriptionSettings() {
		return new SubscriptionSettings();
	}

	/**
	 * H2 on disk (fhirflow.db=h2, the default) or PostgreSQL (fhirflow.db=postgresql with
	 * fhirflow.db-url, -username, -password: the production shape).
	 */
	@Bean(destroyMethod = "close")
	public BasicDataSource dataSource(
			@Value("${fhirflow.data-dir:${HAPI_DATA_DIR:data}}") String theDataDir, Environment theEnv) {
		BasicDataSource ds = new BasicDataSource();
		if (isPostgres(theEnv)) {
			String url = theEnv.getProperty("fhirflow.db-url", "jdbc:postgresql://127.0.0.1:5432/hapi");
			ourLog.info("fhirflow HAPI: PostgreSQL database at {}", url);
			ds.setDriver(new org.postgresql.Driver());
			ds.setUrl(url);
			ds.setUsername(theEnv.getProperty("fhirflow.db-username", "postgres"));
			ds.setPassword(theEnv.getProperty("fhirflow.db-password", ""));
		} else {
			Path dir = Path.of(theDataDir).toAbsolutePath().normalize();
			try {
				Files.createDirectories(dir.resolve("h2"));
			} catch (IOException e) {
				throw new BeanCreationException("Cannot create data dir " + dir, e);
			}
			String url = "jdbc:h2:file:" + dir.resolve("h2").resolve("fhirflow") + ";DB_CLOSE_ON_EXIT=FALSE";
			ourLog.info("fhirflow HAPI: H2 database at {}", url);
			ds.setDriver(new org.h2.Driver());
			ds.setUrl(url);
			ds.setUsername("sa");
			ds.setPassword("");
		}
		ds.setMaxTotal(theEnv.getProperty("fhirflow.db-pool", Integer.class, 20));
		ds.setMaxWait(java.time.Duration.ofSeconds(30));
		return ds;
	}

	static boolean isPostgres(Environment theEnv) {
		return "postgresql".equalsIgnoreCase(theEnv.getProperty("fhirflow.db", "h2"));
	}

	@Bean
	@Primary
	public LocalContainerEntityManagerFactoryBean entityManagerFactory(
			ConfigurableListableBeanFactory theBeanFactory,
			FhirContext theFhirContext,
			JpaStorageSettings theStorageSettings,
			DataSource theDataSource,
			Environment theEnv) {
		LocalContainerEntityManagerFactoryBean emf =
				HapiEntityManagerFactoryUtil.newEntityManagerFactory(theBeanFactory, theFhirContext, theStorageSettings);
		emf.setPersistenceUnitName("FHIRFLOW_HAPI_PU");
		emf.setDataSource(theDataSource);
		Properties p = new Properties();
		p.put("hibernate.dialect", isPostgres(theEnv) ? HapiFhirPostgresDialect.class.getName() : HapiFhirH2Dialect.class.getName());
		p.put("hibernate.hbm2ddl.auto", "update");
		p.put("hibernate.search.enabled", "false");
		p.put("hibernate.format_sql", "false");
		p.put("hibernate.show_sql", "false");
		// Statements of a work chunk's writes go to the database in JDBC batches, grouped by table.
		p.put("hibernate.jdbc.batch_size", theEnv.getProperty("fhirflow.jdbc-batch-size", "100"));
		p.put("hibernate.order_inserts", "true");
		p.put("hibernate.order_updates", "true");
		p.put("hibernate.cache.use_query_cache", "false");
		p.put("hibernate.cache.use_second_level_cache", "false");
		p.put("hibernate.cache.use_structured_entries", "false");
		p.put("hibernate.cache.use_minimal_puts", "false");
		emf.setJpaProperties(p);
		return emf;
	}

	@Bean
	@Primary
	public JpaTransactionManager transactionManager(EntityManagerFactory theEntityManagerFactory) {
		return new JpaTransactionManager(theEntityManagerFactory);
	}

	/**
	 * HAPI runs batch2 maintenance (which advances job steps) once a minute by default; a local
	 * dev server should finish a small $import in seconds, so shorten the interval before the
	 * scheduler registers the job (that happens on ContextRefreshedEvent).
	 */
	@Bean
	public static BeanPostProcessor batch2MaintenanceInterval(
			@Value("${fhirflow.batch2-maintenance-ms:1000}") long theMillis) {
		return new BeanPostProcessor() {
			@Override
			public Object postProcessAfterInitialization(Object theBean, String theBeanName) {
				if (theBean instanceof JobMaintenanceServiceImpl impl) {
					impl.setScheduledJobFrequencyMillis(theMillis);
					ourLog.info("fhirflow HAPI: batch2 maintenance every {} ms", theMillis);
				}
				return theBean;
			}
		};
	}
}
