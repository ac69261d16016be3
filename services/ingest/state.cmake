# state.cmake — opportunity state feed (crm.opportunities → common/crmstate) and rule hot
# reload: library autostage_ingest_state (headers services/ingest/{opportunity_feed,
# rules_reloader}.h).
autostage_library(autostage_ingest_state
  SOURCES opportunity_feed.cc rules_reloader.cc
  DEPS autostage_crmstate autostage_kafka autostage_event autostage_rules autostage_log
       autostage_normalize autostage_status absl::status absl::statusor absl::strings
       absl::time absl::synchronization Threads::Threads)

autostage_test(ingest_rules_reloader_test
  SOURCES rules_reloader_test.cc
  DEPS autostage_ingest_state autostage_testing
  TIMEOUT 120)

if(TARGET autostage_testing)
  autostage_test(ingest_opportunity_feed_kafkatest
    SOURCES opportunity_feed_kafkatest.cc
    DEPS autostage_ingest_state autostage_testing
    LABELS kafka redis
    TIMEOUT 180)
endif()
