// Slurm's tools' output as the orchestrator reads it (slurm.hpp), from lines
// Slurm 22.05 printed, and the command runner the Slurm client uses.
#include <gtest/gtest.h>

#include "services/orchestrator/command.hpp"
#include "services/orchestrator/slurm.hpp"

namespace horizons::orchestrator {
namespace {

TEST(slurm_text, reads_a_failed_job_from_scontrol_show_job) {
  auto job = slurm_text::job(
      "JobId=42 JobName=job-x UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=1 Nice=0 Account=(null) "
      "QOS=(null) JobState=FAILED Reason=NonZeroExitCode Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 "
      "Reboot=0 ExitCode=3:0 RunTime=00:01:05 TimeLimit=00:10:00 TimeMin=N/A SubmitTime=2026-12-07T14:00:00 "
      "Comment=horizons:job-x:attempt-0 WorkDir=/tmp/a dir with spaces StdOut=/tmp/a dir with spaces/out");
  ASSERT_TRUE(job) << job.error();
  EXPECT_EQ(job->id, "42");
  EXPECT_EQ(job->state, "FAILED");
  EXPECT_EQ(job->phase, batch_phase::failed);
  EXPECT_EQ(job->reason, "NonZeroExitCode");
  EXPECT_EQ(job->exit_code, 3);
  EXPECT_EQ(job->signal, 0);
  EXPECT_EQ(job->run_time, std::chrono::seconds(65));
  EXPECT_FALSE(job->never_runs);
  auto fields = slurm_text::fields("JobId=1 WorkDir=/tmp/a dir with spaces Comment=x");
  EXPECT_EQ(fields["WorkDir"], "/tmp/a dir with spaces");
  EXPECT_EQ(fields["Comment"], "x");
}

TEST(slurm_text, a_cancelled_job_has_its_signal_and_no_reason) {
  auto job = slurm_text::job("JobId=7 JobName=a JobState=CANCELLED Reason=None ExitCode=0:15 RunTime=1-02:03:04");
  ASSERT_TRUE(job) << job.error();
  EXPECT_EQ(job->phase, batch_phase::cancelled);
  EXPECT_EQ(job->reason, "");
  EXPECT_EQ(job->signal, 15);
  EXPECT_EQ(job->run_time, std::chrono::seconds(86'400 + 2 * 3600 + 3 * 60 + 4));
}

TEST(slurm_text, a_job_pending_for_partition_limits_never_runs) {
  auto job = slurm_text::job("JobId=9 JobState=PENDING Reason=PartitionConfig Dependency=(null) ExitCode=0:0");
  ASSERT_TRUE(job) << job.error();
  EXPECT_EQ(job->phase, batch_phase::waiting);
  EXPECT_TRUE(job->never_runs);
  EXPECT_FALSE(slurm_text::job("JobId=9 JobState=PENDING Reason=Resources")->never_runs);
}

TEST(slurm_text, maps_every_state_onto_a_phase) {
  EXPECT_EQ(slurm_text::phase("PENDING"), batch_phase::waiting);
  EXPECT_EQ(slurm_text::phase("RUNNING"), batch_phase::running);
  EXPECT_EQ(slurm_text::phase("COMPLETING"), batch_phase::running);
  EXPECT_EQ(slurm_text::phase("COMPLETED"), batch_phase::succeeded);
  for (auto failed : {"FAILED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE", "PREEMPTED"}) {
    EXPECT_EQ(slurm_text::phase(failed), batch_phase::failed) << failed;
  }
  EXPECT_EQ(slurm_text::phase("CANCELLED by 0"), batch_phase::cancelled);
  EXPECT_EQ(slurm_text::phase("LAUNCHED_INTO_SPACE"), batch_phase::unknown);
}

TEST(slurm_text, refuses_lines_without_a_job_and_odd_durations) {
  EXPECT_FALSE(slurm_text::job("slurm_load_jobs error: Invalid job id specified"));
  EXPECT_FALSE(slurm_text::duration("UNLIMITED"));
  EXPECT_FALSE(slurm_text::duration("1:2:3:4"));
  EXPECT_FALSE(slurm_text::duration("a:b"));
  EXPECT_EQ(slurm_text::duration("5:07"), std::chrono::seconds(307));
  EXPECT_EQ(slurm_text::submitted_id("4242\n"), std::optional<std::string>("4242"));
  EXPECT_EQ(slurm_text::submitted_id("4242;horizons\n"), std::optional<std::string>("4242"));
  EXPECT_FALSE(slurm_text::submitted_id("sbatch: error: nope"));
  EXPECT_FALSE(slurm_text::submitted_id(""));
}

TEST(slurm_cli, tools_that_are_not_installed_are_unavailable_and_named) {
  slurm_cli slurm({.bin_dir = "/nonexistent/slurm/bin"});
  auto submitted = slurm.submit({.name = "job-x", .script = "#!/bin/bash\ntrue\n"});
  ASSERT_FALSE(submitted);
  EXPECT_EQ(submitted.error().what, batch_error::kind::unavailable);
  EXPECT_NE(submitted.error().message.find("sbatch not found in /nonexistent/slurm/bin"), std::string::npos)
      << submitted.error().message;
  EXPECT_EQ(slurm.name(), "Slurm (version unknown)");
  auto ids = std::vector<std::string>{"1"};
  EXPECT_FALSE(slurm.status(ids));
  EXPECT_FALSE(slurm.cancel("1"));
}

TEST(run_command, keeps_output_exit_code_and_stdin_and_kills_at_the_deadline) {
  auto done = run_command({"sh", "-c", "cat; echo oops >&2; exit 3"}, "hello\n", std::chrono::seconds(10));
  ASSERT_TRUE(done) << done.error().message;
  EXPECT_EQ(done->exit_code, 3);
  EXPECT_EQ(done->out, "hello\n");
  EXPECT_EQ(done->err, "oops\n");
  auto deaf = run_command({"sh", "-c", "exit 0"}, std::string(1 << 20, 'x'), std::chrono::seconds(10));
  ASSERT_TRUE(deaf) << "a program that does not read its stdin: " << deaf.error().message;
  auto slow = run_command({"sleep", "30"}, "", std::chrono::milliseconds(200));
  ASSERT_FALSE(slow);
  EXPECT_EQ(slow.error().what, command_error::kind::timed_out);
  auto missing = run_command({"no-such-program-here"}, "", std::chrono::seconds(1));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().what, command_error::kind::not_found);
}

}  // namespace
}  // namespace horizons::orchestrator
