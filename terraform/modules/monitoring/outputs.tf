output "sns_topic_arn" {
  description = "The alarm topic."
  value       = aws_sns_topic.alarms.arn
}
