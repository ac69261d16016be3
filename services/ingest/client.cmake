# client.cmake — the review client (batched SubmitProposals), the DLQ writer and the event
# deduper: library autostage_ingest_client (headers services/ingest/{review_client,dlq_writer,
# deduper}.h).
autostage_library(autostage_ingest_client
  SOURCES review_client.cc dlq_writer.cc deduper.cc
  DEPS autostage_proto autostage_kafka autostage_redis autostage_status absl::status
       absl::statusor absl::strings absl::time absl::synchronization gRPC::grpc++
       Threads::Threads)

if(TARGET autostage_testing)
  autostage_test(ingest_deduper_redistest
    SOURCES deduper_redistest.cc
    DEPS autostage_ingest_client autostage_testing
    LABELS redis
    TIMEOUT 120)
  autostage_test(ingest_dlq_writer_kafkatest
    SOURCES dlq_writer_kafkatest.cc
    DEPS autostage_ingest_client autostage_testing
    LABELS kafka
    TIMEOUT 120)
  autostage_test(ingest_review_client_redistest
    SOURCES review_client_redistest.cc
    DEPS autostage_ingest_client autostage_review autostage_testing
    LABELS redis
    TIMEOUT 180)
  autostage_test(ingest_review_client_test
    SOURCES review_client_test.cc
    DEPS autostage_ingest_client autostage_testing)
endif()
