// The dashboard's entry point (replaced by the application).
document.getElementById("view").textContent = "pipeline dashboard";
